package runbook_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drbook/drbook/runbook"
)

// TestNestingLimit: lists and block quotes nested up to MaxNesting are
// read; one level deeper is refused before parsing, naming the first line
// that goes too deep, however the nesting is written.
func TestNestingLimit(t *testing.T) {
	const head = "---\nid: deep\n---\n# Deep\n\n## Phase\n\n" // the list starts on line 8
	indented := func(d int) string {
		var b strings.Builder
		for i := 0; i < d; i++ {
			b.WriteString(strings.Repeat("  ", i) + "- step\n")
		}
		return b.String()
	}
	tabs := func(d int) string { // a tab is 4 columns: two levels of "- "
		var b strings.Builder
		for i := 0; i < d; i++ {
			b.WriteString(strings.Repeat("\t", i/2) + strings.Repeat("  ", i%2) + "- step\n")
		}
		return b.String()
	}
	quotes := func(d int) string {
		var b strings.Builder
		for i := 1; i <= d; i++ {
			b.WriteString(strings.Repeat("> ", i) + "text\n")
		}
		return b.String()
	}
	tests := []struct {
		name     string
		body     func(d int) string
		deepLine int // the line the first too-deep level is on
	}{
		{"indented list", indented, 8 + runbook.MaxNesting},
		{"tab-indented list", tabs, 8 + runbook.MaxNesting},
		{"markers on one line", func(d int) string { return strings.Repeat("- ", d) + "step\n" }, 8},
		{"ordered markers on one line", func(d int) string { return strings.Repeat("10. ", d) + "step\n" }, 8},
		{"block quotes, one more a line", quotes, 8 + runbook.MaxNesting},
		{"block quotes on one line, no spaces", func(d int) string { return strings.Repeat(">", d) + " text\n" }, 8},
		{"quotes and lists mixed", func(d int) string {
			return strings.Repeat("> - ", d/2) + strings.Repeat("> ", d%2) + "step\n"
		}, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			MustParse(t, head+tt.body(runbook.MaxNesting), "deep.md")
			_, err := runbook.Parse([]byte(head+tt.body(runbook.MaxNesting+1)), "deep.md")
			var ps runbook.Problems
			if !errors.As(err, &ps) || len(ps) != 1 {
				t.Fatalf("one level deeper: %v, want a problem", err)
			}
			want := fmt.Sprintf("deep.md:%d: lists or block quotes nested %d deep; drbook reads at most %d levels", tt.deepLine, runbook.MaxNesting+1, runbook.MaxNesting)
			if !strings.HasPrefix(ps[0].String(), want) {
				t.Errorf("got  %s\nwant %s", ps[0], want)
			}
		})
	}
}

// TestNotNesting: what looks like a long run of markers but opens no
// container is read: a thematic break, emphasis, a deeply indented line
// that is no list item, numbers that are not list markers.
func TestNotNesting(t *testing.T) {
	for _, body := range []string{
		strings.Repeat("* ", 80) + "\n",
		strings.Repeat("- ", 80) + "\n",
		"- " + strings.Repeat("*a* ", 80) + "\n",
		"    ```sh\n" + strings.Repeat(" ", 200) + "echo deep\n    ```\n",
		"- step\n\n  " + strings.Repeat("1.5 ", 50) + "\n",
		strings.Repeat("-", 200) + "\n",
	} {
		MustParse(t, "# R\n\n## Phase\n\n- first step\n\n"+body, "flat.md")
	}
}

// TestLineLimit: a runbook of MaxLines lines is read; one more is refused
// with the first line past the limit.
func TestLineLimit(t *testing.T) {
	body := func(lines int) string {
		return "# R\n\n## Phase\n\n" + strings.Repeat("- step\n", lines-4)
	}
	MustParse(t, body(runbook.MaxLines), "long.md")
	_, err := runbook.Parse([]byte(body(runbook.MaxLines+1)), "long.md")
	var ps runbook.Problems
	if !errors.As(err, &ps) || len(ps) != 1 || ps[0].Line != runbook.MaxLines+1 || !strings.Contains(ps[0].Msg, "line limit") {
		t.Fatalf("one line more: %v", err)
	}
}

// TestHostileFilesAreRefusedOrRead: every input of BenchmarkHostile, at
// a size a test can afford, is either read or refused with a problem at a
// line of the file; none panics or fails another way. ReadFile gives the
// same answer as Parse.
func TestHostileFilesAreRefusedOrRead(t *testing.T) {
	dir := t.TempDir()
	for _, h := range hostileInputs {
		src := h.gen(64 << 10)
		lines := 1 + strings.Count(string(src), "\n")
		path := filepath.Join(dir, h.name+".md")
		if err := os.WriteFile(path, src, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := runbook.ReadFile(path)
		if err == nil {
			continue
		}
		var ps runbook.Problems
		if !errors.As(err, &ps) || len(ps) == 0 {
			t.Errorf("%s: %T %v, want Problems", h.name, err, err)
			continue
		}
		for _, p := range ps {
			if p.File != path || p.Line < 1 || p.Line > lines || strings.Contains(p.Msg, "internal parser error") {
				t.Errorf("%s: %v (%d lines)", h.name, p, lines)
			}
		}
	}
}

// TestTitleMarkupPastTheLimits: a title with more markup than drbook
// parses is kept as written, markup and all, rather than lost.
func TestTitleMarkupPastTheLimits(t *testing.T) {
	links := strings.Repeat("[x](y) ", 9)
	rb := MustParse(t, "# R\n\n## Phase\n\n- **Check** the `db`\n- Open "+links+"\n", "t.md")
	steps := rb.Phases[0].Steps
	if len(steps) != 2 || steps[0].Title != "Check the db" || steps[1].Title != "Open "+strings.TrimSpace(links) {
		for _, s := range steps {
			t.Logf("%q", s.Title)
		}
		t.Fatal("titles")
	}
}
