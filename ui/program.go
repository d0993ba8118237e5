package ui

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"runtime/debug"
	"sync/atomic"

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
	m := New(opts)
	// The session is open and its model built: the heap goes back to its
	// usual target for the rest of the session.
	endStartupGC()
	p := tea.NewProgram(m,
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
//
// Unless the operator set GOGC, it also lets the heap grow further between
// collections (startupGCPercent) until Run starts drawing: parsing a large
// runbook and rebuilding a long timeline allocate much that is soon
// garbage, and collecting it as often as usual delays the first frame.
// The memory limit still bounds the heap meanwhile.
func LimitMemory(getenv func(string) string) {
	if getenv == nil || getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
	if getenv == nil || getenv("GOGC") == "" {
		prev := debug.SetGCPercent(startupGCPercent)
		startupGC.CompareAndSwap(0, int64(prev)+gcSaved)
	}
}

// startupGCPercent is the collector's target while a session opens.
const startupGCPercent = 400

// startupGC holds the collector's target LimitMemory replaced, plus
// gcSaved, until endStartupGC restores it; 0 when there is none.
var startupGC atomic.Int64

// gcSaved offsets a saved target so that a saved 0 (or -1, off) is not
// taken for "none".
const gcSaved = 1 << 20

// endStartupGC restores the collector's target LimitMemory replaced, once.
func endStartupGC() {
	if v := startupGC.Swap(0); v != 0 {
		debug.SetGCPercent(int(v - gcSaved))
	}
}
