package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/drbook/drbook/runbook"
)

// Start-up benchmarks: the built binary, exec'd as an operator or a script
// runs it, timed from exec to exit (or to the first frame of the TUI).
// Each reports the median of its runs, which holds better than the mean on
// a machine shared with other work. Run them with a few iterations:
//
//	go test ./ui/e2e -run XXX -bench Startup -benchtime 21x

// median returns the median of ds in milliseconds.
func median(ds []time.Duration) float64 {
	slices.Sort(ds)
	return float64(ds[len(ds)/2].Microseconds()) / 1000
}

// runTimed runs drbook with args to its exit and returns how long it took.
func runTimed(b *testing.B, env []string, args ...string) time.Duration {
	b.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	d := time.Since(start)
	if err != nil {
		b.Fatalf("drbook %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return d
}

// declare declares a drill running rb and returns its id.
func declare(b *testing.B, env []string, rb string, extra ...string) string {
	b.Helper()
	cmd := exec.Command(binary, append([]string{"declare", rb, "--drill"}, extra...)...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("declare: %v", err)
	}
	f := strings.Fields(string(out))
	if len(f) == 0 {
		b.Fatal("declare printed no id")
	}
	return f[len(f)-1]
}

// BenchmarkStartupVersion: 'drbook version', exec to exit.
func BenchmarkStartupVersion(b *testing.B) {
	var ds []time.Duration
	for b.Loop() {
		ds = append(ds, runTimed(b, nil, "version"))
	}
	b.ReportMetric(median(ds), "ms/median")
}

// BenchmarkStartupNote: 'drbook note ID TEXT' on an open drill, exec to
// exit, the note durably appended.
func BenchmarkStartupNote(b *testing.B) {
	env := []string{"DRBOOK_STATE_DIR=" + b.TempDir(), "USER=bench"}
	id := declare(b, env, "complete-system-recovery")
	var ds []time.Duration
	for b.Loop() {
		ds = append(ds, runTimed(b, env, "note", id, "bridge", "call", "still", "open"))
	}
	b.ReportMetric(median(ds), "ms/median")
}

// BenchmarkStartupStep: 'drbook step ID STEP done' on the plan's steps in
// turn, exec to exit; a new drill is declared (untimed) when all are done.
func BenchmarkStartupStep(b *testing.B) {
	env := []string{"DRBOOK_STATE_DIR=" + b.TempDir(), "USER=bench"}
	rb, err := runbook.Load("complete-system-recovery", nil)
	if err != nil {
		b.Fatal(err)
	}
	var ids []string
	for _, ph := range rb.Phases {
		for _, st := range ph.Steps {
			ids = append(ids, st.ID)
		}
	}
	var ds []time.Duration
	id, next := "", len(ids)
	for b.Loop() {
		if next == len(ids) {
			b.StopTimer()
			id, next = declare(b, env, "complete-system-recovery"), 0
			b.StartTimer()
		}
		ds = append(ds, runTimed(b, env, "step", id, ids[next], "done", "--reason", "done by hand in the bench"))
		next++
	}
	b.ReportMetric(median(ds), "ms/median")
}

// generatedRunbook is a runbook of n sections (steps) in phases of 100,
// a tenth of them with shell blocks, SQL or drbook actions.
func generatedRunbook(n int) string {
	var b strings.Builder
	b.WriteString("---\nid: generated\nrto: 4h\nrpo: 15m\nmtd: 8h\n---\n# Generated\n\n")
	for i := 0; i < n; i++ {
		if i%100 == 0 {
			p := i / 100
			fmt.Fprintf(&b, "\n## Phase %d (%d-%d minutes)\n\nSome text about phase %d.\n\n", p, p*10, p*10+10, p)
		}
		switch i % 10 {
		case 3:
			fmt.Fprintf(&b, "- Run check %d\n\n  ```sh {name=check-%d timeout=1m}\n  echo \"checking %d\"\n  ```\n\n", i, i, i)
		case 6:
			fmt.Fprintf(&b, "- Count rows %d\n\n  ```sql\n  SELECT COUNT(*) FROM trades WHERE id > %d;\n  ```\n\n", i, i)
		default:
			fmt.Fprintf(&b, "- Do manual thing number %d with **care**\n\n  Check the `gateway %d` logs, then *say so* on the bridge.\n\n", i, i)
		}
	}
	return b.String()
}

// benchResumeFirstFrame measures 'drbook resume ID' from exec to the first
// frame that shows the incident, on a terminal answering like a terminal.
func benchResumeFirstFrame(b *testing.B, rb string, books string) {
	env := []string{"DRBOOK_STATE_DIR=" + b.TempDir(), "USER=bench", "TERM=xterm-256color"}
	var extra []string
	if books != "" {
		extra = []string{"--runbooks", books}
	}
	id := declare(b, env, rb, extra...)
	var ds []time.Duration
	for b.Loop() {
		start := time.Now()
		p := startPty(b, env, append([]string{"resume", id}, extra...)...)
		p.waitFor(b, id)
		ds = append(ds, time.Since(start))
		b.StopTimer()
		p.stop()
		b.StartTimer()
	}
	b.ReportMetric(median(ds), "ms/median-first-frame")
}

// BenchmarkStartupResumePlan: the first frame of 'drbook resume' on the
// plan's runbook.
func BenchmarkStartupResumePlan(b *testing.B) {
	benchResumeFirstFrame(b, "complete-system-recovery", "")
}

// BenchmarkStartupResume2000: the first frame of 'drbook resume' on a
// runbook of 2,000 sections.
func BenchmarkStartupResume2000(b *testing.B) {
	books := b.TempDir()
	if err := os.WriteFile(filepath.Join(books, "generated.md"), []byte(generatedRunbook(2000)), 0o644); err != nil {
		b.Fatal(err)
	}
	benchResumeFirstFrame(b, "generated", books)
}
