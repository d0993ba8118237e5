package ui

import (
	"math"
	"runtime/debug"
	"testing"
)

// gcPercent returns the collector's target without changing it.
func gcPercent() int {
	v := debug.SetGCPercent(100)
	debug.SetGCPercent(v)
	return v
}

// TestStartupGC: LimitMemory raises the collector's target for the
// session's opening unless the operator set GOGC, and endStartupGC puts
// back exactly what was there, once.
func TestStartupGC(t *testing.T) {
	prevLimit := debug.SetMemoryLimit(math.MaxInt64)
	prevGC := debug.SetGCPercent(73)
	t.Cleanup(func() {
		endStartupGC()
		debug.SetGCPercent(prevGC)
		debug.SetMemoryLimit(prevLimit)
	})

	LimitMemory(func(string) string { return "" })
	if got := gcPercent(); got != startupGCPercent {
		t.Fatalf("during start-up GOGC is %d, want %d", got, startupGCPercent)
	}
	if got := debug.SetMemoryLimit(-1); got != memoryLimit {
		t.Fatalf("memory limit %d, want %d", got, memoryLimit)
	}
	// A second call (another session in the process) keeps the first
	// saved target.
	LimitMemory(func(string) string { return "" })
	endStartupGC()
	if got := gcPercent(); got != 73 {
		t.Fatalf("after start-up GOGC is %d, want the 73 it was", got)
	}
	debug.SetGCPercent(55)
	endStartupGC() // nothing saved any more: changes nothing
	if got := gcPercent(); got != 55 {
		t.Fatalf("a second endStartupGC changed GOGC to %d", got)
	}

	// The operator's GOGC is left alone; so is a collector turned off.
	LimitMemory(func(k string) string {
		if k == "GOGC" {
			return "55"
		}
		return ""
	})
	if got := gcPercent(); got != 55 {
		t.Fatalf("with GOGC set, start-up changed it to %d", got)
	}
	debug.SetGCPercent(-1)
	LimitMemory(func(string) string { return "" })
	endStartupGC()
	if got := gcPercent(); got != -1 {
		t.Fatalf("a collector turned off came back as %d", got)
	}
}
