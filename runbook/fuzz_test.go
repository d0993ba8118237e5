package runbook_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/runbooks"
	"github.com/drbook/drbook/steps"
)

// corpusDir is the seed corpus at the top of the repository. go test
// replays it (and the plan and the embedded runbooks) on every run; go test
// -fuzz=FuzzParse adds what it finds to runbook/testdata/fuzz/FuzzParse,
// which go test also replays — move those files to corpusDir.
const corpusDir = "../testdata/fuzz/FuzzParse"

// readCorpusFile reads a seed in the "go test fuzz v1" format, or a plain
// Markdown file as is.
func readCorpusFile(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	const header = "go test fuzz v1\n"
	if !bytes.HasPrefix(b, []byte(header)) {
		return b
	}
	lit := strings.TrimSpace(string(b[len(header):]))
	for _, p := range []string{"[]byte(", "string("} {
		if strings.HasPrefix(lit, p) && strings.HasSuffix(lit, ")") {
			s, err := strconv.Unquote(lit[len(p) : len(lit)-1])
			if err != nil {
				tb.Fatalf("%s: %v", path, err)
			}
			return []byte(s)
		}
	}
	tb.Fatalf("%s: not a []byte or string seed", path)
	return nil
}

func FuzzParse(f *testing.F) {
	ents, err := os.ReadDir(corpusDir)
	if err != nil {
		f.Fatal(err)
	}
	if len(ents) < 10 {
		f.Fatalf("seed corpus %s has %d files", corpusDir, len(ents))
	}
	for _, e := range ents {
		f.Add(readCorpusFile(f, filepath.Join(corpusDir, e.Name())))
	}
	plan, err := os.ReadFile(planPath)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(plan)
	_ = fs.WalkDir(runbooks.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := runbooks.FS.ReadFile(p)
			f.Add(b)
		}
		return nil
	})

	// Let a panic through with its stack instead of Parse's error.
	runbook.SetCatchPanics(false)
	f.Cleanup(func() { runbook.SetCatchPanics(true) })
	f.Fuzz(func(t *testing.T, src []byte) {
		// CR LF and a lone CR end lines too (CommonMark).
		norm := bytes.ReplaceAll(src, []byte("\r\n"), []byte("\n"))
		lines := 1 + bytes.Count(norm, []byte("\n")) + bytes.Count(norm, []byte("\r"))
		rb, err := runbook.Parse(src, "fuzz.md")
		if err != nil {
			var ps runbook.Problems
			if !errors.As(err, &ps) || len(ps) == 0 {
				t.Fatalf("error %T is not Problems: %v", err, err)
			}
			for _, p := range ps {
				if strings.Contains(p.Msg, "internal parser error") {
					t.Fatalf("parser panicked: %v", p)
				}
				if p.File != "fuzz.md" || p.Line < 1 || p.Line > lines+1 || p.Msg == "" {
					t.Fatalf("bad problem position or message: %v (%d lines)", p, lines)
				}
			}
			return
		}
		ids := map[string]bool{}
		for _, ph := range rb.Phases {
			if ph.Line < 1 || ph.Line > lines {
				t.Fatalf("phase %q line %d of %d", ph.ID, ph.Line, lines)
			}
			for _, st := range ph.Steps {
				if st.Line < 1 || st.Line > lines {
					t.Fatalf("step %q line %d of %d", st.ID, st.Line, lines)
				}
				if st.Block != nil && (st.Block.Line < 1 || st.Block.Line > lines) {
					t.Fatalf("block of %q line %d of %d", st.ID, st.Block.Line, lines)
				}
				if !ids[st.ID] {
					ids[st.ID] = true
					if _, got := rb.Step(st.ID); got == nil {
						t.Fatalf("Step(%q) finds nothing", st.ID)
					}
				}
			}
		}
		for _, p := range rb.Validate(steps.Catalog{}) {
			if p.Line < 1 || p.Line > lines+1 || p.Msg == "" {
				t.Fatalf("bad problem: %v (%d lines)", p, lines)
			}
		}
	})
}
