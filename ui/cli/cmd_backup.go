package cli

import "context"

func runBackup(ctx context.Context, iox *IO, args []string) error { return notYet("backup") }

func runBackups(ctx context.Context, iox *IO, args []string) error { return notYet("backups") }

func runRestore(ctx context.Context, iox *IO, args []string) error { return notYet("restore") }

func runVerify(ctx context.Context, iox *IO, args []string) error { return notYet("verify") }

func runPrune(ctx context.Context, iox *IO, args []string) error { return notYet("prune") }

func runRecover(ctx context.Context, iox *IO, args []string) error { return notYet("recover") }
