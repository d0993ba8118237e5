package ui

import (
	"context"
	"errors"
	"io"

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
