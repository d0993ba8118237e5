package incident

import (
	"sync"
	"time"
)

// Clock tells the time. Tests inject a ManualClock; drills with a speed
// factor wrap the real clock with Scaled.
type Clock interface{ Now() time.Time }

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns time.Now.
func (SystemClock) Now() time.Time { return time.Now() }

// Scaled returns a clock that, from origin on, runs factor times faster than
// base: with factor 60 one real minute counts as one hour. A factor of 0 or
// 1 returns base unchanged.
func Scaled(base Clock, origin time.Time, factor float64) Clock {
	if factor == 0 || factor == 1 {
		return base
	}
	return &anchoredClock{base: base, real: origin, at: origin, factor: factor}
}

// anchoredClock is a sped-up drill's clock: at the real instant real the
// drill time was at, and from there it runs factor times faster. A resume
// moves the anchor (see Open): the drill clock runs only while someone
// attends the drill.
type anchoredClock struct {
	base   Clock
	factor float64
	mu     sync.Mutex
	real   time.Time
	at     time.Time
}

func (c *anchoredClock) Now() time.Time {
	c.mu.Lock()
	real, at := c.real, c.at
	c.mu.Unlock()
	return at.Add(time.Duration(float64(c.base.Now().Sub(real)) * c.factor))
}

// anchor makes drill time at correspond to the real instant real.
func (c *anchoredClock) anchor(real, at time.Time) {
	c.mu.Lock()
	c.real, c.at = real, at
	c.mu.Unlock()
}

// ManualClock is a clock that only moves when told to. It is safe for
// concurrent use; tests and tabletop tools use it.
type ManualClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewManualClock returns a clock stopped at t.
func NewManualClock(t time.Time) *ManualClock { return &ManualClock{now: t} }

// Now returns the clock's time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to t.
func (c *ManualClock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// Advance moves the clock forward by d and returns the new time.
func (c *ManualClock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}
