package cli

import "context"

func runDemo(ctx context.Context, iox *IO, args []string) error { return notYet("demo") }

func runCheck(ctx context.Context, iox *IO, args []string) error { return notYet("check") }
