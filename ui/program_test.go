package ui

import (
	"runtime/debug"
	"testing"
)

// gcPercent returns the collector's target without changing it.
func gcPercent() int {
	v := debug.SetGCPercent(100)
	debug.SetGCPercent(v)
	return v
}

// TestOpeningGC: while sessions open, the collector's target is raised
// unless the operator set GOGC; it goes back to exactly what it was when
// the last overlapping opening ends, once, even if an end is called twice.
func TestOpeningGC(t *testing.T) {
	t.Setenv("GOGC", "")
	prev := debug.SetGCPercent(73)
	t.Cleanup(func() { debug.SetGCPercent(prev) })

	endA := openingGC()
	if got := gcPercent(); got != startupGCPercent {
		t.Fatalf("while opening GOGC is %d, want %d", got, startupGCPercent)
	}
	endB := openingGC() // a second operator's session (drbook serve)
	endA()
	endA()
	if got := gcPercent(); got != startupGCPercent {
		t.Fatalf("with one opening left GOGC is %d, want %d", got, startupGCPercent)
	}
	endB()
	if got := gcPercent(); got != 73 {
		t.Fatalf("after opening GOGC is %d, want the 73 it was", got)
	}

	// A collector turned off stays off.
	debug.SetGCPercent(-1)
	openingGC()()
	if got := gcPercent(); got != -1 {
		t.Fatalf("a collector turned off came back as %d", got)
	}

	// The operator's GOGC is left alone.
	t.Setenv("GOGC", "55")
	debug.SetGCPercent(55)
	end := openingGC()
	if got := gcPercent(); got != 55 {
		t.Fatalf("with GOGC set, opening changed it to %d", got)
	}
	end()
}
