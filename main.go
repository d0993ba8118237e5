// Command drbook is a terminal runbook assistant for disaster recovery: it
// turns a Markdown recovery plan into executable, timed, recorded steps.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"

	"github.com/drbook/drbook/steps/backup"
	"github.com/drbook/drbook/ui/cli"
	"github.com/drbook/drbook/ui/startgc"
)

func main() {
	// The hidden checker subcommand: a restore re-runs drbook to check the
	// staged database on another core (see backup.Checker).
	if len(os.Args) > 1 && os.Args[1] == backup.CheckerCommand {
		startgc.Done()
		os.Exit(backup.RunChecker(os.Args[2:], os.Stdout, os.Stderr))
	}
	// SIGINT and SIGTERM cancel the root context; SIGHUP (the SSH link
	// dropped) does too, so running actions stop cleanly and are recorded.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		// After the first signal, restore the default handlers: a second
		// Ctrl-C kills drbook even if something ignores the cancellation.
		<-ctx.Done()
		stop()
	}()
	iox := &cli.IO{
		Stdin:      os.Stdin,
		Stdout:     os.Stdout,
		Stderr:     os.Stderr,
		Getenv:     os.Getenv,
		IsTerminal: term.IsTerminal(int(os.Stdin.Fd())) && term.IsTerminal(int(os.Stdout.Fd())),
		Checker:    backup.SelfChecker(),
	}
	code := cli.Main(ctx, os.Args[1:], iox)
	stop()
	os.Exit(code)
}
