package ui

import (
	"context"
	"sync"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/steps"
)

// runDone is how a run ended.
type runDone struct {
	stepID string
	res    incident.StepOutcome
	err    error
}

// runChans are one run's channels: events, then (after events is closed)
// exactly one runDone. done has room for it, so the runner never blocks
// on a screen that has gone away.
type runChans struct {
	events <-chan steps.Event
	done   <-chan runDone
}

type (
	runStartedMsg struct {
		id int
		ch runChans
	}
	runEventMsg struct {
		id  int
		evs []steps.Event
		ch  runChans
	}
	runDoneMsg struct {
		id int
		runDone
	}
)

// Runs tracks the actions a TUI started, so that whoever runs the program
// can wait, after it exits, for every action to be cancelled and recorded
// (the SSH link dropped; the operator quit).
type Runs struct {
	wg sync.WaitGroup
	mu sync.Mutex
	// cancels are the cancel funcs of runs still going.
	cancels map[int]context.CancelFunc
	// detached is closed when the screen has gone but its runs go on
	// (drbook serve: the SSH session dropped).
	detached     chan struct{}
	detachedOnce sync.Once
}

// Detach tells the runs still going that nobody reads their output any
// more: they go on (and are recorded) without waiting for a screen. It
// does not cancel them; CancelAndWait still does.
func (r *Runs) Detach() {
	r.detachedOnce.Do(func() {
		r.mu.Lock()
		if r.detached == nil {
			r.detached = make(chan struct{})
		}
		close(r.detached)
		r.mu.Unlock()
	})
}

// gone returns the channel closed by Detach.
func (r *Runs) gone() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.detached == nil {
		r.detached = make(chan struct{})
	}
	return r.detached
}

func (r *Runs) add(id int, cancel context.CancelFunc) {
	r.mu.Lock()
	if r.cancels == nil {
		r.cancels = map[int]context.CancelFunc{}
	}
	r.cancels[id] = cancel
	r.mu.Unlock()
	r.wg.Add(1)
}

func (r *Runs) finish(id int) {
	r.mu.Lock()
	delete(r.cancels, id)
	r.mu.Unlock()
	r.wg.Done()
}

// CancelAndWait cancels every run still going and waits until each has
// returned (and so has been recorded as interrupted or finished).
func (r *Runs) CancelAndWait() {
	r.mu.Lock()
	for _, c := range r.cancels {
		c()
	}
	r.mu.Unlock()
	r.wg.Wait()
}

// startRun returns a Cmd that starts a step's action in its own goroutine
// and hands its channels back to Update. Everything it needs is captured by
// value; it never touches the model.
func startRun(runs *Runs, sess Session, ctx context.Context, cancel context.CancelFunc, id int, stepID string, confirmed bool) tea.Cmd {
	return func() tea.Msg {
		events := make(chan steps.Event, 1024)
		done := make(chan runDone, 1)
		runs.add(id, cancel)
		gone := runs.gone()
		go func() {
			defer runs.finish(id)
			defer cancel()
			emit := func(e steps.Event) {
				select {
				case events <- e:
				case <-ctx.Done():
				case <-gone:
				}
			}
			res, err := sess.RunStep(ctx, stepID, confirmed, emit)
			close(events)
			done <- runDone{stepID: stepID, res: res, err: err}
		}()
		return runStartedMsg{id: id, ch: runChans{events: events, done: done}}
	}
}

// waitForEvent waits for a run's next events (taking everything already
// queued, so a chatty action costs one redraw per batch) or its end.
func waitForEvent(id int, ch runChans) tea.Cmd {
	return func() tea.Msg {
		ev, ok := <-ch.events
		if !ok {
			return runDoneMsg{id: id, runDone: <-ch.done}
		}
		evs := []steps.Event{ev}
		for len(evs) < 500 {
			select {
			case e, ok := <-ch.events:
				if !ok {
					return runEventMsg{id: id, evs: evs, ch: ch}
				}
				evs = append(evs, e)
			default:
				return runEventMsg{id: id, evs: evs, ch: ch}
			}
		}
		return runEventMsg{id: id, evs: evs, ch: ch}
	}
}
