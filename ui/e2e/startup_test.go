package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestChromaInitIsLazy: the built binary's package initialisation
// (GODEBUG=inittrace=1) does not parse chroma's lexers and styles, which
// glamour links into every command. Upstream parses about 250 XML lexers
// and 70 styles there (4 MB allocated, 12-18 ms before main); the copy in
// ui/third_party/chroma builds them on first use. It measures bytes
// allocated, not time, so a busy machine does not change the answer.
func TestChromaInitIsLazy(t *testing.T) {
	cmd := exec.Command(binary, "version")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("drbook version: %v\n%s", err, out)
	}
	// init github.com/alecthomas/chroma/v2/lexers @4.2 ms, 0.45 ms clock, 224800 bytes, 791 allocs
	var chroma, packages int
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 9 || f[0] != "init" || f[8] != "bytes," {
			continue
		}
		packages++
		if strings.HasPrefix(f[1], "github.com/alecthomas/chroma/") {
			n, err := strconv.Atoi(f[7])
			if err != nil {
				t.Fatalf("unreadable trace line %q", line)
			}
			chroma += n
		}
	}
	if packages == 0 {
		t.Fatalf("no inittrace lines in:\n%s", out)
	}
	if chroma > 512<<10 {
		t.Errorf("chroma's packages allocate %d bytes at initialisation (upstream about 4 MB; the lazy registries about 280 KB)", chroma)
	}
}

// TestQuickCommandsDoNotCollect: 'drbook version' and 'drbook note' run
// without a single collection (GODEBUG=gctrace=1 prints one line per
// collection). Package initialisation allocates about 3.4 MB, past the
// collector's first 4 MB target with what a command adds, and that one
// collection cost 2-4 ms of a 15 ms start; ui/startgc holds the collector
// back while packages initialise. Counted, not timed.
func TestQuickCommandsDoNotCollect(t *testing.T) {
	env := []string{"DRBOOK_STATE_DIR=" + t.TempDir(), "USER=e2e", "GODEBUG=gctrace=1"}
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(binary, args...)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("drbook %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	collections := func(out string) (n int) {
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, "gc ") {
				n++
			}
		}
		return n
	}
	if n := collections(run("version")); n != 0 {
		t.Errorf("drbook version collected %d times", n)
	}
	f := strings.Fields(run("declare", "complete-system-recovery", "--drill"))
	id := f[len(f)-1]
	if !strings.HasPrefix(id, "DRILL-") {
		t.Fatalf("declare printed %q", f)
	}
	if n := collections(run("note", id, "bridge", "call", "open")); n != 0 {
		t.Errorf("drbook note collected %d times", n)
	}
	// A command that is not a quick one gets the usual collector back: the
	// sandbox generator's first collection aims at the usual 4 MB heap, not
	// the 40 MB of the start-up setting.
	out := run("demo", "--root", filepath.Join(t.TempDir(), "sb"), "--trades", "20000")
	m := regexp.MustCompile(`(?m)^gc 1 .*, (\d+) MB goal`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("drbook demo did not collect:\n%s", out)
	}
	if goal, _ := strconv.Atoi(m[1]); goal > 8 {
		t.Errorf("drbook demo's first collection aimed at a %d MB heap: the start-up setting was not put back", goal)
	}
}
