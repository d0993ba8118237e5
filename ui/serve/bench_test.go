package serve_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// BenchmarkKeystrokeToOtherScreen measures one operator's keystroke (enter
// acknowledges a manual step) to the other operator's screen showing the
// step done, both over SSH to one server on loopback. The target is under
// 300ms; the figure is reported as ms/keystroke.
func BenchmarkKeystrokeToOtherScreen(b *testing.B) {
	var rb strings.Builder
	rb.WriteString("---\nid: serve-test\ntitle: Serve Test\nrto: 1h\n---\n\n# Serve Test\n\n## Only Phase (0-60 minutes)\n\n")
	n := b.N + 1
	for i := 0; i < n; i++ {
		fmt.Fprintf(&rb, "- Manual step %04d\n", i)
	}
	f := newFixtureWith(b, rb.String())
	a := f.open(b, "alice")
	o := f.open(b, "bob")
	for _, s := range []*screen{a, o} {
		s.waitFor("Resume " + f.id)
		s.keys("\x1b[B")
		s.keys("\x1b[B")
		s.keys("\r")
		s.waitFor("Manual step 0000")
	}
	var total time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		a.keys("\r")
		o.waitFor(fmt.Sprintf("[x] Manual step %04d", i))
		total += time.Since(start)
		a.waitFor(fmt.Sprintf("[x] Manual step %04d", i)) // A ready for the next key
	}
	b.StopTimer()
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/keystroke")
}
