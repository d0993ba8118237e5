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
// 1 returns base unchanged. Because the incident stores its origin (the real
// time it was declared) and its factor, a resumed drill keeps the same
// clock: real time spent away counts at the same speed.
func Scaled(base Clock, origin time.Time, factor float64) Clock {
	if factor == 0 || factor == 1 {
		return base
	}
	return scaledClock{base: base, origin: origin, factor: factor}
}

type scaledClock struct {
	base   Clock
	origin time.Time
	factor float64
}

func (c scaledClock) Now() time.Time {
	real := c.base.Now().Sub(c.origin)
	return c.origin.Add(time.Duration(float64(real) * c.factor))
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
