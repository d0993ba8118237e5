// Package proc runs one program in its own process group for an action:
// a timeout that kills the whole group, each output line streamed as an
// event with secrets redacted, and a bounded tail kept for the record.
// Actions that run programs (shell blocks, the IBKR cancel command) share
// it instead of importing one another.
package proc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/drbook/drbook/steps"
	"github.com/drbook/drbook/steps/redact"
)

// Limits on what a block's output may cost. Output past them is not lost
// from the process's point of view; drbook keeps the tail and says so.
const (
	// TailLines is how many of the last output lines are kept in the result.
	TailLines = 500
	// StreamLines is how many lines are streamed as events before drbook
	// stops streaming a flooding block (the tail is still kept).
	StreamLines = 5000
	// MaxLine is the longest line kept; longer lines are cut and marked.
	MaxLine = 16 << 10
	// KillGrace is how long a process group has between SIGTERM and SIGKILL.
	KillGrace = 2 * time.Second
	// PipeGrace is how long drbook keeps reading after the block's main
	// process has exited while background processes still hold its output.
	PipeGrace = 2 * time.Second
)

// Output is what a run records.
type Output struct {
	Command  string   `json:"command"`
	Dir      string   `json:"dir"`
	ExitCode int      `json:"exit_code"`
	Expect   int      `json:"expect"`
	Lines    int      `json:"lines"`          // total lines written to stdout and stderr
	Tail     []string `json:"tail"`           // the last TailLines lines, "stdout: "/"stderr: " prefixed
	Capped   bool     `json:"capped"`         // Tail does not hold every line
	TimedOut bool     `json:"timed_out"`      // the timeout killed the process group
	Killed   bool     `json:"killed"`         // the process group was killed (timeout or cancel)
	Note     string   `json:"note,omitempty"` // what else the operator should know
}

// Command is one process run by Exec.
type Command struct {
	Interpreter []string // program and arguments; the script's path is appended
	Code        string   // the script
	Dir         string
	Env         []string
	Timeout     time.Duration // 0: none
	Secrets     []string      // values replaced by [REDACTED] in everything emitted or kept
	Now         func() time.Time
}

// Exec runs c in its own process group, streaming each output line through
// emit. On timeout or cancellation it kills the whole group (SIGTERM, then
// SIGKILL after KillGrace). A timeout is reported in Output; a
// cancellation returns ctx's error.
func Exec(ctx context.Context, c Command, emit steps.Emit) (Output, error) {
	now := c.Now
	if now == nil {
		now = time.Now
	}
	if emit == nil {
		emit = func(steps.Event) {}
	}
	out := Output{Command: strings.Join(c.Interpreter, " "), Dir: c.Dir}
	script, err := os.CreateTemp("", "drbook-block-*.sh")
	if err != nil {
		return out, fmt.Errorf("write script: %w", err)
	}
	defer os.Remove(script.Name())
	if _, err := script.WriteString(c.Code); err != nil {
		script.Close()
		return out, fmt.Errorf("write script: %w", err)
	}
	if err := script.Close(); err != nil {
		return out, fmt.Errorf("write script: %w", err)
	}

	args := append(append([]string(nil), c.Interpreter[1:]...), script.Name())
	cmd := exec.Command(c.Interpreter[0], args...)
	cmd.Dir = c.Dir
	cmd.Env = c.Env
	// A new session (and so a new process group, id = pid): the whole
	// group can be killed, and the block has no controlling terminal, so a
	// sudo or ssh password prompt fails instead of taking over the TUI's.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return out, err
	}
	defer devnull.Close()
	cmd.Stdin = devnull
	outR, outW, err := os.Pipe()
	if err != nil {
		return out, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return out, err
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	if err := cmd.Start(); err != nil {
		outR.Close()
		outW.Close()
		errR.Close()
		errW.Close()
		return out, fmt.Errorf("start %s: %w", c.Interpreter[0], err)
	}
	outW.Close()
	errW.Close()
	pgid := cmd.Process.Pid
	defer watchdog(pgid)()

	col := newCollector(c.Secrets, emit, now)
	var readers sync.WaitGroup
	readers.Add(2)
	go func() { defer readers.Done(); col.read(outR, steps.Stdout) }()
	go func() { defer readers.Done(); col.read(errR, steps.Stderr) }()

	var timeoutC <-chan time.Time
	if c.Timeout > 0 {
		t := time.NewTimer(c.Timeout)
		defer t.Stop()
		timeoutC = t.C
	}
	waitDone := make(chan error, 1)
	go func() { waitDone <- cmd.Wait() }()

	var waitErr error
	exited, killed, timedOut := false, false, false
	select {
	case waitErr = <-waitDone:
		exited = true
	case <-timeoutC:
		timedOut = true
	case <-ctx.Done():
		// A deadline on the context (the incident engine applies the
		// block's timeout too) is a timeout, not an operator's cancel.
		timedOut = errors.Is(ctx.Err(), context.DeadlineExceeded)
	}
	if !exited && processDone(waitDone, &waitErr) {
		exited, timedOut = true, false
	}
	if !exited {
		killed = true
		why := "canceled"
		if timedOut {
			why = "timed out"
		}
		col.info(fmt.Sprintf("%s: killing process group %d", why, pgid))
		waitErr = killGroup(pgid, waitDone)
	}

	// The main process is gone. Background processes it left may still hold
	// the pipes; give them PipeGrace, then stop reading. After a kill the
	// whole group is gone, so the pipes close at once.
	readersDone := make(chan struct{})
	go func() { readers.Wait(); close(readersDone) }()
	select {
	case <-readersDone:
	case <-time.After(PipeGrace):
		out.Note = "background processes started by the block still hold its output; drbook stopped reading"
		col.info(out.Note)
	}
	outR.Close()
	errR.Close()
	<-readersDone

	out.Lines, out.Tail, out.Capped = col.result()
	out.Killed, out.TimedOut = killed, timedOut
	out.ExitCode = exitCode(cmd.ProcessState, waitErr)
	if killed && !timedOut {
		return out, ctx.Err()
	}
	return out, nil
}

// watchdog starts a small process that outlives drbook: if drbook dies
// while the block runs (SIGKILL, the OOM killer, a hang-up that takes the
// whole session), it kills the block's process group within about a
// second, so no script goes on changing the system with nobody watching.
// The returned func stops it once the block has ended. Without /bin/sh
// there is no watchdog; the block runs as before.
func watchdog(pgid int) (stop func()) {
	script := fmt.Sprintf(`while kill -0 %d 2>/dev/null; do sleep 1; done
kill -TERM -%d 2>/dev/null; sleep %d; kill -KILL -%d 2>/dev/null`, os.Getpid(), pgid, int(KillGrace/time.Second)+1, pgid)
	w := exec.Command("/bin/sh", "-c", script)
	w.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // its own group: stopped whole, never in the block's
	if err := w.Start(); err != nil {
		return func() {}
	}
	return func() {
		_ = syscall.Kill(-w.Process.Pid, syscall.SIGKILL)
		_ = w.Wait()
	}
}

// processDone reports whether the process has already exited, storing its
// wait error.
func processDone(waitDone <-chan error, werr *error) bool {
	select {
	case *werr = <-waitDone:
		return true
	default:
		return false
	}
}

// killGroup sends SIGTERM to the process group, then SIGKILL after
// KillGrace, and returns the main process's wait error. The group is sent
// SIGKILL in the end in every case, so that no grandchild outlives the block.
func killGroup(pgid int, waitDone <-chan error) error {
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	var werr error
	select {
	case werr = <-waitDone:
	case <-time.After(KillGrace):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		werr = <-waitDone
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	return werr
}

func exitCode(ps *os.ProcessState, err error) int {
	if ps != nil {
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ps.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// collector streams and keeps a block's output lines.
type collector struct {
	mu       sync.Mutex
	red      *redact.Redactor
	emit     steps.Emit
	now      func() time.Time
	lines    int
	tail     []string // ring of TailLines
	next     int
	streamed bool // the flood notice was sent
}

func newCollector(secrets []string, emit steps.Emit, now func() time.Time) *collector {
	return &collector{red: redact.New(secrets...), emit: emit, now: now}
}

// Redact replaces every secret value in line, and its common encodings,
// with [REDACTED] (see package redact). Code that redacts many lines
// builds one redact.Redactor instead.
func Redact(line string, secrets []string) string {
	return redact.New(secrets...).String(line)
}

func (c *collector) read(r io.Reader, stream steps.Stream) {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := readLine(br)
		if line != nil {
			c.add(stream, string(line))
		}
		if err != nil {
			return
		}
	}
}

// readLine reads one line, cutting it at MaxLine and discarding the rest
// of an overlong line.
func readLine(br *bufio.Reader) ([]byte, error) {
	var buf []byte
	cut := false
	for {
		frag, err := br.ReadSlice('\n')
		if len(buf) < MaxLine {
			room := MaxLine - len(buf)
			if len(frag) > room {
				frag, cut = frag[:room], true
			}
			buf = append(buf, frag...)
		} else if len(frag) > 0 {
			cut = true
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err != nil:
			if len(buf) == 0 && !cut {
				return nil, err
			}
			return trimLine(buf, cut), err
		default:
			return trimLine(buf, cut), nil
		}
	}
}

func trimLine(b []byte, cut bool) []byte {
	b = []byte(strings.TrimRight(string(b), "\r\n"))
	// A progress line redrawn with carriage returns: keep what a terminal
	// would show, the text after the last one.
	if i := strings.LastIndexByte(string(b), '\r'); i >= 0 {
		b = b[i+1:]
	}
	if cut {
		b = append(b, " [line cut]"...)
	}
	return b
}

func (c *collector) add(stream steps.Stream, line string) {
	line = c.red.String(line)
	c.mu.Lock()
	c.lines++
	n := c.lines
	rec := string(stream) + ": " + line
	if len(c.tail) < TailLines {
		c.tail = append(c.tail, rec)
	} else {
		c.tail[c.next] = rec
		c.next = (c.next + 1) % TailLines
	}
	notice := false
	if n > StreamLines && !c.streamed {
		c.streamed, notice = true, true
	}
	c.mu.Unlock()
	if n <= StreamLines {
		c.emit(steps.Event{Time: c.now(), Stream: stream, Line: line})
	} else if notice {
		c.emit(steps.Event{Time: c.now(), Stream: steps.Info, Line: fmt.Sprintf("output flood: more than %d lines; no longer streaming, keeping the last %d", StreamLines, TailLines)})
	}
}

func (c *collector) info(line string) {
	c.emit(steps.Event{Time: c.now(), Stream: steps.Info, Line: line})
}

func (c *collector) result() (int, []string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	tail := append(append([]string(nil), c.tail[c.next:]...), c.tail[:c.next]...)
	return c.lines, tail, c.lines > len(tail)
}
