package serve

import (
	"sync"
	"time"
)

// authLimiter counts refused keys per client address: after max refusals
// within window, the address is refused outright (even a good key) until
// the window has passed since its first refusal.
type authLimiter struct {
	max    int
	window time.Duration
	now    func() time.Time

	mu    sync.Mutex
	fails map[string]*failCount
}

type failCount struct {
	first time.Time
	n     int
}

func newAuthLimiter(max int, window time.Duration, now func() time.Time) *authLimiter {
	if now == nil {
		now = time.Now
	}
	return &authLimiter{max: max, window: window, now: now, fails: map[string]*failCount{}}
}

// blocked reports whether addr has used up its refusals.
func (l *authLimiter) blocked(addr string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.fails[addr]
	if f == nil {
		return false
	}
	if l.now().Sub(f.first) >= l.window {
		delete(l.fails, addr)
		return false
	}
	return f.n >= l.max
}

// fail counts one refusal for addr.
func (l *authLimiter) fail(addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	f := l.fails[addr]
	if f == nil || now.Sub(f.first) >= l.window {
		f = &failCount{first: now}
		l.fails[addr] = f
	}
	f.n++
}
