package cli

import "context"

func runKillswitch(ctx context.Context, iox *IO, args []string) error { return notYet("killswitch") }

func runReconcile(ctx context.Context, iox *IO, args []string) error { return notYet("reconcile") }

func runFailover(ctx context.Context, iox *IO, args []string) error { return notYet("failover") }
