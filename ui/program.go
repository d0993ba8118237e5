package ui

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
)

// Run runs the TUI on in and out until the operator quits or ctx is
// cancelled (SIGHUP: the SSH link dropped). Either way, an action still
// running is then cancelled (its process group killed) and waited for, so
// it is recorded as interrupted before Run returns. The incident stays
// open.
func Run(ctx context.Context, opts Options, in io.Reader, out io.Writer) (Result, error) {
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
	final, err := p.Run()
	cancel()
	opts.Runs.CancelAndWait()
	var res Result
	if m, ok := final.(Model); ok && m.haveInc && m.inc.st != nil {
		res = Result{IncidentID: m.inc.st.ID, Status: string(m.inc.st.Status), ReadOnly: m.inc.readOnly()}
	}
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	if errors.Is(err, tea.ErrProgramKilled) {
		return res, context.Canceled
	}
	return res, err
}

// Result says which incident the TUI was showing when it exited, so the
// command can tell the operator how to get back to it.
type Result struct {
	IncidentID string
	Status     string // open, resolved, abandoned
	ReadOnly   bool
}

// Farewell is the line to print after the TUI exits, or "".
func (r Result) Farewell(stateDir string) string {
	switch {
	case r.IncidentID == "" || r.ReadOnly:
		return ""
	case r.Status == "open":
		return r.IncidentID + " is still open: drbook resume " + r.IncidentID
	}
	return r.IncidentID + " " + r.Status + "; report: " + filepath.Join(ReportDir(stateDir), r.IncidentID+".md")
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

// startupGCPercent is the Go collector's target while a session opens.
const startupGCPercent = 400

// startupGC tracks the sessions opening at once (drbook serve opens one
// per operator) and the collector's target to put back after the last.
var startupGC struct {
	mu    sync.Mutex
	depth int
	saved int
}

// openingGC lets the heap grow further between collections
// (startupGCPercent) until the returned function is called, unless the
// operator set GOGC. Opening a session parses its runbook and rebuilds its
// timeline, which allocate much that is soon garbage: collecting it as
// often as usual delays the first frame. The memory limit (LimitMemory)
// still bounds the heap meanwhile. Calls may overlap; the target goes back
// when the last one ends.
func openingGC() (end func()) {
	if os.Getenv("GOGC") != "" {
		return func() {}
	}
	g := &startupGC
	g.mu.Lock()
	if g.depth == 0 {
		g.saved = debug.SetGCPercent(startupGCPercent)
	}
	g.depth++
	g.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			g.mu.Lock()
			defer g.mu.Unlock()
			if g.depth--; g.depth == 0 {
				debug.SetGCPercent(g.saved)
			}
		})
	}
}
