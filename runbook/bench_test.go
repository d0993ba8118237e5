package runbook_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/text"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/steps"
)

// BenchmarkParseValidatePlan parses and validates the plan as written
// (target: under 2 ms).
func BenchmarkParseValidatePlan(b *testing.B) {
	src, err := os.ReadFile(planPath)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		rb, err := runbook.Parse(src, planPath)
		if err != nil {
			b.Fatal(err)
		}
		_ = rb.Validate(steps.Catalog{})
	}
}

// GenerateRunbook writes a runbook of n steps in phases of 100, mixing
// manual steps, shell, SQL and drbook blocks, with windows and variables.
func GenerateRunbook(n int) []byte {
	var b strings.Builder
	b.WriteString("---\nid: generated\nrto: 4h\nrpo: 15m\nmtd: 8h\nvariables:\n  - name: TARGET\n    default: latest\n---\n# Generated\n\n")
	for i := 0; i < n; i++ {
		if i%100 == 0 {
			p := i / 100
			fmt.Fprintf(&b, "\n## Phase %d (%d-%d minutes)\n\nSome text about phase %d.\n\n", p, p*10, p*10+10, p)
		}
		switch i % 10 {
		case 3:
			fmt.Fprintf(&b, "- Run check %d\n\n  ```sh {name=check-%d timeout=1m}\n  echo \"checking $TARGET %d\"\n  ```\n\n", i, i, i)
		case 6:
			fmt.Fprintf(&b, "- Count rows %d\n\n  ```sql\n  SELECT COUNT(*) FROM trades WHERE id > %d;\n  ```\n\n", i, i)
		case 9:
			fmt.Fprintf(&b, "- Restore %d\n\n  ```drbook {confirm=true}\n  restore\n  from: ${TARGET}\n  ```\n\n", i)
		default:
			fmt.Fprintf(&b, "- Do manual thing number %d with **care**\n", i)
		}
	}
	return []byte(b.String())
}

func TestGeneratedRunbook(t *testing.T) {
	rb := MustParse(t, string(GenerateRunbook(1000)), "gen.md")
	if got := rb.StepCount(); got != 1000 || len(rb.Phases) != 10 {
		t.Fatalf("%d steps in %d phases", got, len(rb.Phases))
	}
	if ps := rb.Validate(steps.Catalog{}); len(ps) != 0 {
		t.Fatalf("problems: %v", ps[:min(5, len(ps))])
	}
}

// BenchmarkParseValidate10kSteps parses and validates a 10,000-step
// runbook (target: under 200 ms and 50 MB allocated per run).
func BenchmarkParseValidate10kSteps(b *testing.B) {
	src := GenerateRunbook(10000)
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		rb, err := runbook.Parse(src, "gen.md")
		if err != nil {
			b.Fatal(err)
		}
		if ps := rb.Validate(steps.Catalog{}); len(ps) != 0 {
			b.Fatal(ps[0])
		}
	}
}

// BenchmarkGoldmarkOnlyPlan is the floor: goldmark parsing the plan into
// its AST and nothing else. Parse+validate is reported as a ratio to it,
// which holds on a busy machine where absolute times do not.
func BenchmarkGoldmarkOnlyPlan(b *testing.B) {
	src, err := os.ReadFile(planPath)
	if err != nil {
		b.Fatal(err)
	}
	p := goldmark.New().Parser()
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		_ = p.Parse(text.NewReader(src))
	}
}
