package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/runbook/drill"
	"github.com/drbook/drbook/runbook/incident"
)

// ptyProc is drbook running on a pseudo-terminal of 80x24.
type ptyProc struct {
	cmd  *exec.Cmd
	ptmx *os.File
	out  chan []byte
	seen []byte
}

func startPty(tb testing.TB, env []string, args ...string) *ptyProc {
	tb.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		tb.Skipf("no pty: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		tb.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		tb.Fatal(err)
	}
	pts, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		tb.Fatal(err)
	}
	defer pts.Close()
	if err := unix.IoctlSetWinsize(int(pts.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 24, Col: 80}); err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = pts, pts, pts
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	p := &ptyProc{cmd: cmd, ptmx: ptmx, out: make(chan []byte, 1024)}
	go func() {
		for {
			buf := make([]byte, 32<<10)
			n, err := ptmx.Read(buf)
			if n > 0 {
				// Answer like a terminal emulator: bubbletea v1's init asks
				// for the background colour (OSC 11) with a cursor position
				// request (DSR) as a fence; a real terminal answers both at
				// once, a bare pty never does (termenv then waits 5 s).
				if bytes.Contains(buf[:n], []byte("\x1b]11;?")) {
					ptmx.Write([]byte("\x1b]11;rgb:0000/0000/0000\x1b\\"))
				}
				if bytes.Contains(buf[:n], []byte("\x1b[6n")) {
					ptmx.Write([]byte("\x1b[1;1R"))
				}
				p.out <- buf[:n]
			}
			if err != nil {
				close(p.out)
				return
			}
		}
	}()
	return p
}

func (p *ptyProc) waitFor(tb testing.TB, want string) {
	tb.Helper()
	timeout := time.After(60 * time.Second)
	for !bytes.Contains(p.seen, []byte(want)) {
		select {
		case b, ok := <-p.out:
			if !ok {
				tb.Fatalf("drbook exited before showing %q:\n%s", want, p.seen)
			}
			p.seen = append(p.seen, b...)
		case <-timeout:
			tb.Fatalf("drbook never showed %q:\n%s", want, p.seen)
		}
	}
}

func (p *ptyProc) stop() {
	p.cmd.Process.Signal(syscall.SIGHUP)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-done
	}
	p.ptmx.Close()
}

// BenchmarkColdStart measures drbook from exec to its first frame on a
// terminal, and to the home screen listing the runbooks.
func BenchmarkColdStart(b *testing.B) {
	state := b.TempDir()
	var first, home time.Duration
	best := time.Hour
	for i := 0; i < b.N; i++ {
		start := time.Now()
		p := startPty(b, []string{"DRBOOK_STATE_DIR=" + state, "TERM=xterm-256color"})
		p.waitFor(b, "drbook")
		first += time.Since(start)
		best = min(best, time.Since(start))
		p.waitFor(b, "Start a drill")
		home += time.Since(start)
		p.stop()
	}
	b.ReportMetric(float64(first.Microseconds())/1000/float64(b.N), "ms/first-frame")
	b.ReportMetric(float64(best.Microseconds())/1000, "ms/best-first-frame")
	b.ReportMetric(float64(home.Microseconds())/1000/float64(b.N), "ms/home")
}

// BenchmarkIncidentRSS measures drbook's memory (peak RSS) with an incident
// of 10,000 timeline events open and its timeline shown.
func BenchmarkIncidentRSS(b *testing.B) {
	state := b.TempDir()
	store, err := incident.OpenStore(state)
	if err != nil {
		b.Fatal(err)
	}
	rb, err := runbook.Load("complete-system-recovery", nil)
	if err != nil {
		b.Fatal(err)
	}
	d, err := drill.Start(context.Background(), drill.Options{Runbook: rb, Scenario: "corrupt-db", StateDir: state,
		Store: store, Operator: incident.Operator{Name: "bench"}, Trades: 200})
	if err != nil {
		b.Fatal(err)
	}
	for i := d.Incident.State().Events; i < 10000; i++ {
		if err := d.Incident.Note(fmt.Sprintf("note %d: checking the gateway logs again, nothing new", i)); err != nil {
			b.Fatal(err)
		}
	}
	id := d.Incident.ID()
	store.Close()
	b.ResetTimer()
	var peak int
	for i := 0; i < b.N; i++ {
		p := startPty(b, []string{"DRBOOK_STATE_DIR=" + state, "TERM=xterm-256color"}, "resume", id)
		p.waitFor(b, id)
		time.Sleep(300 * time.Millisecond)
		opened := vmHWM(b, p.cmd.Process.Pid)
		p.ptmx.Write([]byte("t"))
		p.waitFor(b, "Timeline")
		time.Sleep(300 * time.Millisecond)
		peak = max(peak, vmHWM(b, p.cmd.Process.Pid))
		b.Logf("peak RSS: %d KB with the incident open, %d KB with its timeline shown", opened, peak)
		p.stop()
	}
	b.ReportMetric(float64(peak)/1024, "MB-peak-RSS")
}

func vmHWM(tb testing.TB, pid int) int {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		tb.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			f := strings.Fields(l)
			kb, _ := strconv.Atoi(f[1])
			return kb
		}
	}
	return 0
}
