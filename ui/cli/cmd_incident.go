package cli

import "context"

func runDeclare(ctx context.Context, iox *IO, args []string) error { return notYet("declare") }

func runStep(ctx context.Context, iox *IO, args []string) error { return notYet("step") }

func runNote(ctx context.Context, iox *IO, args []string) error { return notYet("note") }

func runClose(ctx context.Context, iox *IO, args []string) error { return notYet("close") }

func runIncidents(ctx context.Context, iox *IO, args []string) error { return notYet("incidents") }

func runTimeline(ctx context.Context, iox *IO, args []string) error { return notYet("timeline") }

func runReport(ctx context.Context, iox *IO, args []string) error { return notYet("report") }

func runComms(ctx context.Context, iox *IO, args []string) error { return notYet("comms") }

func runDrills(ctx context.Context, iox *IO, args []string) error { return notYet("drills") }
