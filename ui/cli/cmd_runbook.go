package cli

import "context"

func runList(ctx context.Context, iox *IO, args []string) error { return notYet("list") }

func runShow(ctx context.Context, iox *IO, args []string) error { return notYet("show") }

func runValidate(ctx context.Context, iox *IO, args []string) error { return notYet("validate") }
