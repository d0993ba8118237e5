package ui

import (
	"context"
	"errors"
	"io"
	"runtime/debug"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
)

// Run runs the TUI on in and out until the operator quits or ctx is
// cancelled (SIGHUP: the SSH link dropped). Either way, an action still
// running is then cancelled (its process group killed) and waited for, so
// it is recorded as interrupted before Run returns. The incident stays
// open.
func Run(ctx context.Context, opts Options, in io.Reader, out io.Writer) error {
	if opts.Runs == nil {
		opts.Runs = &Runs{}
	}
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	opts.Ctx = actx
	// Bubbles' default styles use the global renderer: pin it too, so
	// nothing asks the terminal for its colours (a query can hang over SSH).
	lipgloss.SetColorProfile(ColorProfile(opts.Getenv, opts.NoColor))
	lipgloss.SetHasDarkBackground(true)
	p := tea.NewProgram(New(opts),
		tea.WithContext(ctx),
		tea.WithInput(in),
		tea.WithOutput(out),
		tea.WithAltScreen(),
	)
	_, err := p.Run()
	cancel()
	opts.Runs.CancelAndWait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, tea.ErrProgramKilled) {
		return context.Canceled
	}
	return err
}

// memoryLimit is the Go heap's soft limit while the TUI runs.
const memoryLimit = 32 << 20

// LimitMemory keeps the Go heap tight for an interactive session unless
// the operator set GOMEMLIMIT: a jump host may be small and an incident's
// timeline long, while the screen itself needs little (a timeline of
// 10,000 events is a few MB). Call it before opening an incident.
func LimitMemory(getenv func(string) string) {
	if getenv == nil || getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
}
