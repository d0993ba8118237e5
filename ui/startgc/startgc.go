// Package startgc keeps the Go collector out of drbook's start-up.
//
// Before main, Go initialises every package linked into the binary
// (glamour's Markdown stack, the AWS SDK's endpoint tables, the SSH
// server...), and together they allocate about 3.4 MB. That crosses the
// collector's first target (4 MB at GOGC=100), so every command used to
// start with one collection, which cost 2-4 ms on the 2-core machine: a
// sixth of `drbook version`. This package raises the target while the
// packages initialise and bounds the heap with a memory limit instead;
// Done puts both back.
//
// It works because Go initialises packages in import-path order among
// those whose imports are ready, and this one needs only runtime/debug and
// os: it runs before most of the heavy initialisers (bluemonday, goldmark,
// golang.org/x/net/html, modernc.org/..., gopkg.in/yaml). If it ran later,
// the only cost would be that one collection again. A test in ui/e2e
// checks that `drbook version` collects nothing.
//
// An operator's GOGC or GOMEMLIMIT is left alone.
package startgc

import (
	"math"
	"os"
	"runtime/debug"
)

// startGCPercent lets the heap grow to 40 MB before a first collection;
// startLimit bounds it meanwhile, whatever the target says.
const (
	startGCPercent = 1000
	startLimit     = 64 << 20
)

var saved = struct {
	set     bool
	percent int
	limit   int64
}{}

func init() {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	saved.set = true
	saved.percent = debug.SetGCPercent(startGCPercent)
	saved.limit = debug.SetMemoryLimit(startLimit)
}

// Done puts the collector's target and memory limit back as they were
// before start-up. Commands that run for long or handle much data call it
// first; a short command (a note, a step) may finish without it, and
// then never collects. Calling it again does nothing.
func Done() {
	if !saved.set {
		return
	}
	saved.set = false
	debug.SetGCPercent(saved.percent)
	if saved.limit == 0 {
		saved.limit = math.MaxInt64
	}
	debug.SetMemoryLimit(saved.limit)
}
