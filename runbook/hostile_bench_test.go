package runbook_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/steps"
)

// hostileInput is a runbook shaped to make a Markdown parser slow: nobody
// writes one by hand, but drbook reads files from anywhere, so validate
// and show must finish on any input up to runbook.MaxSize.
type hostileInput struct {
	name string
	gen  func(size int) []byte // at most size bytes
}

// repeatTo repeats unit up to size bytes, after head.
func repeatTo(head, unit string, size int) []byte {
	var b strings.Builder
	b.WriteString(head)
	for b.Len()+len(unit) <= size {
		b.WriteString(unit)
	}
	return []byte(b.String())
}

// hostileInputs are the worst inputs found for goldmark and for drbook's
// own walk of its tree (see BenchmarkHostile).
var hostileInputs = []hostileInput{
	// Nesting: refused beyond runbook.MaxNesting, before goldmark runs.
	{"deep-list-indented", func(size int) []byte {
		var b strings.Builder
		b.WriteString("# R\n\n")
		for i := 0; ; i++ {
			line := strings.Repeat("  ", i) + "- step\n"
			if b.Len()+len(line) > size {
				break
			}
			b.WriteString(line)
		}
		return []byte(b.String())
	}},
	{"deep-list-one-line", func(size int) []byte {
		return []byte("# R\n\n" + strings.Repeat("- ", (size-10)/2) + "x\n")
	}},
	{"deep-blockquote-one-line", func(size int) []byte {
		return []byte("# R\n\n" + strings.Repeat(">", size-10) + " x\n")
	}},
	{"deep-blockquote-lines", func(size int) []byte {
		var b strings.Builder
		b.WriteString("# R\n\n")
		for i := 1; ; i++ {
			line := strings.Repeat(">", i) + " x\n"
			if b.Len()+len(line) > size {
				break
			}
			b.WriteString(line)
		}
		return []byte(b.String())
	}},
	{"deep-ordered-list", func(size int) []byte {
		return []byte("# R\n\n" + strings.Repeat("1. ", (size-10)/3) + "x\n")
	}},
	{"deep-mixed-list-quote", func(size int) []byte {
		return []byte("# R\n\n" + strings.Repeat("- > ", (size-10)/4) + "x\n")
	}},
	// Nesting just under the limit, repeated to the size limit.
	{"max-depth-lists-repeated", func(size int) []byte {
		var one strings.Builder
		for i := 0; i < runbook.MaxNesting; i++ {
			one.WriteString(strings.Repeat("  ", i) + "- step\n")
		}
		return repeatTo("# R\n\n", one.String()+"\n", size)
	}},
	{"max-depth-quotes-repeated", func(size int) []byte {
		return repeatTo("# R\n\n", strings.Repeat("> ", runbook.MaxNesting)+"x\n\n", size)
	}},
	// Inline delimiters: emphasis, code spans, links.
	{"line-of-stars", func(size int) []byte { return repeatTo("# R\n\n- ", "*", size) }},
	{"line-of-underscores", func(size int) []byte { return repeatTo("# R\n\n- ", "_", size) }},
	{"alternating-emphasis", func(size int) []byte { return repeatTo("# R\n\n- ", "*a _b ", size) }},
	{"unclosed-strong", func(size int) []byte { return repeatTo("# R\n\n- ", "**a ", size) }},
	{"line-of-backticks", func(size int) []byte { return repeatTo("# R\n\n- ", "`", size) }},
	{"backtick-runs-growing", func(size int) []byte {
		var b strings.Builder
		b.WriteString("# R\n\n- ")
		for i := 1; b.Len()+i+1 <= size; i++ {
			b.WriteString(strings.Repeat("`", i) + "a")
		}
		return []byte(b.String())
	}},
	{"open-brackets", func(size int) []byte { return repeatTo("# R\n\n- ", "[", size) }},
	{"open-image-brackets", func(size int) []byte { return repeatTo("# R\n\n- ", "![", size) }},
	{"unclosed-links", func(size int) []byte { return repeatTo("# R\n\n- ", "[a](", size) }},
	{"bracket-pairs-no-link", func(size int) []byte { return repeatTo("# R\n\n- ", "[a]", size) }},
	{"many-links", func(size int) []byte {
		return repeatTo("# R\n\n", "- [step](https://example.com/a \"t\") and <https://x.y/>\n", size)
	}},
	{"many-reference-links", func(size int) []byte {
		var b strings.Builder
		b.WriteString("# R\n\n")
		for i := 0; b.Len() < size/2; i++ {
			fmt.Fprintf(&b, "[r%d]: https://example.com/%d\n", i, i)
		}
		for i := 0; ; i++ {
			line := fmt.Sprintf("- see [step][r%d]\n", i%1000)
			if b.Len()+len(line) > size {
				break
			}
			b.WriteString(line)
		}
		return []byte(b.String())
	}},
	{"huge-table", func(size int) []byte {
		return repeatTo("# R\n\n| a | b | c |\n|---|---|---|\n", "| x | `y` | *z* |\n", size)
	}},
	{"one-long-line", func(size int) []byte { return repeatTo("# R\n\n- ", "word ", size) }},
	// drbook's own structures: many steps with one title, many phases.
	{"same-step-title", func(size int) []byte { return repeatTo("# R\n\n## P\n\n", "- x\n", size) }},
	{"same-phase-title", func(size int) []byte { return repeatTo("# R\n\n", "## P\n\n- x\n\n", size) }},
	{"many-code-blocks", func(size int) []byte { // 5 lines of head: cut whole at MaxLines
		return repeatTo("# R\n\n## P\n\n\n", "```sh\necho x\n```\n", size)
	}},
	{"unclosed-html", func(size int) []byte { return repeatTo("# R\n\n- ", "<a ", size) }},
	{"entities", func(size int) []byte { return repeatTo("# R\n\n- ", "&amp;&#1234;&", size) }},
}

// atLimits cuts src to runbook.MaxLines lines: the worst input is the
// largest one drbook reads rather than refuses.
func atLimits(src []byte) []byte {
	n := 0
	for i, c := range src {
		if c == '\n' {
			if n++; n == runbook.MaxLines {
				return src[:i+1]
			}
		}
	}
	return src
}

// BenchmarkHostile parses and validates each hostile input at the limits
// (runbook.MaxSize bytes, runbook.MaxLines lines), as drbook validate and
// drbook show do (show also prints, which is linear). The target: every
// one under 1 s per run. It reports CPU time per run (cpu-ms/op) beside
// the wall time, which a machine shared with other work inflates. Run it
// with -benchtime=1x:
//
//	go test -run '^$' -bench Hostile -benchtime=1x ./runbook/
func BenchmarkHostile(b *testing.B) {
	for _, h := range hostileInputs {
		src := atLimits(h.gen(runbook.MaxSize))
		b.Run(h.name, func(b *testing.B) {
			b.SetBytes(int64(len(src)))
			refused := false
			cpu0 := cpuTime()
			for b.Loop() {
				rb, err := runbook.Parse(src, h.name+".md")
				refused = err != nil
				if err == nil {
					_ = rb.Validate(steps.Catalog{})
				}
			}
			b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op")
			if refused {
				b.ReportMetric(1, "refused")
			}
		})
	}
}
