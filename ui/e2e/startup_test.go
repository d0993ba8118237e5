package e2e

import (
	"os"
	"os/exec"
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
