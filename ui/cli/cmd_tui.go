package cli

import "context"

func runTUI(ctx context.Context, iox *IO, args []string) error { return notYet("tui") }

func runDrill(ctx context.Context, iox *IO, args []string) error { return notYet("drill") }

func runResume(ctx context.Context, iox *IO, args []string) error { return notYet("resume") }
