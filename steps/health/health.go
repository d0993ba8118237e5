// Package health watches the primary site for the automatic failover of
// plan 2.3 ("health monitoring detects failure"). A Probe looks at one
// sign of life: the trading system's heartbeat file, the database's
// quick_check (read-only), an HTTP health URL. Watch runs the probes every
// interval and returns once they have failed a given number of rounds in a
// row, so that the caller can declare the incident.
//
// Nothing here changes the system: probes only read.
package health

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/drbook/drbook/checks"
)

// HeartbeatFile is where a QuantAI system shows it is alive, relative to
// its root: the trading loop touches logs/heartbeat on every cycle, so the
// file's modification time is when it last did useful work.
const HeartbeatFile = "logs/heartbeat"

// Result is one probe's verdict.
type Result struct {
	Probe  string        `json:"probe"`
	OK     bool          `json:"ok"`
	Detail string        `json:"detail"`
	Took   time.Duration `json:"took_ns"`
}

// Probe looks at one sign of life. It never changes anything.
type Probe interface {
	Name() string
	Probe(ctx context.Context, now time.Time) Result
}

// Heartbeat fails when the file at Path is missing or older than MaxAge.
type Heartbeat struct {
	Path   string
	MaxAge time.Duration
}

// Name implements Probe.
func (h Heartbeat) Name() string { return "heartbeat" }

// Probe implements Probe.
func (h Heartbeat) Probe(_ context.Context, now time.Time) Result {
	fi, err := os.Stat(h.Path)
	if err != nil {
		return Result{Probe: h.Name(), Detail: fmt.Sprintf("%s: %v", h.Path, unwrap(err))}
	}
	age := now.Sub(fi.ModTime())
	if age < 0 {
		age = 0
	}
	if age > h.MaxAge {
		return Result{Probe: h.Name(), Detail: fmt.Sprintf("stale: %s old (max %s)", age.Round(time.Second), h.MaxAge)}
	}
	return Result{Probe: h.Name(), OK: true, Detail: fmt.Sprintf("%s old", age.Round(time.Second))}
}

// QuickCheck is drbook's db-integrity check on the database under Root:
// the file's shape (a size that does not fit its pages passes SQLite's
// own quick_check), PRAGMA quick_check and the foreign keys, with the
// database opened read-only in a way that creates no -wal, -shm or
// journal file next to it. A missing, unreadable or damaged database
// fails.
type QuickCheck struct{ Root string }

// Name implements Probe.
func (q QuickCheck) Name() string { return "quick_check" }

// Probe implements Probe.
func (q QuickCheck) Probe(ctx context.Context, now time.Time) Result {
	r := Result{Probe: q.Name()}
	var bad []string
	_, err := checks.Run(ctx, checks.Options{Root: q.Root, Only: []string{checks.DBIntegrity}, Now: func() time.Time { return now }},
		func(f checks.Finding) {
			if f.Status == checks.Fail {
				bad = append(bad, firstLine(f.Message))
			}
		})
	switch {
	case err != nil:
		r.Detail = firstLine(err.Error())
	case len(bad) > 0:
		r.Detail = strings.Join(bad, "; ")
	default:
		r.OK, r.Detail = true, "ok"
	}
	return r
}

// HTTP fails unless a GET of URL answers 2xx within Timeout.
type HTTP struct {
	URL     string
	Timeout time.Duration // 5 s when 0
	Client  *http.Client  // http.DefaultClient when nil
}

// Name implements Probe.
func (h HTTP) Name() string { return "http" }

// Probe implements Probe.
func (h HTTP) Probe(ctx context.Context, _ time.Time) Result {
	r := Result{Probe: h.Name()}
	to := h.Timeout
	if to <= 0 {
		to = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, to)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.URL, nil)
	if err != nil {
		r.Detail = err.Error()
		return r
	}
	c := h.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		r.Detail = firstLine(err.Error())
		return r
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	r.Detail = resp.Status
	r.OK = resp.StatusCode >= 200 && resp.StatusCode < 300
	return r
}

// Probes builds the probes for a QuantAI root: its heartbeat (when maxAge
// > 0), its database's quick_check (when quick), and url when not empty.
func Probes(root string, maxAge time.Duration, quick bool, url string) []Probe {
	var ps []Probe
	if maxAge > 0 {
		ps = append(ps, Heartbeat{Path: filepath.Join(root, HeartbeatFile), MaxAge: maxAge})
	}
	if quick {
		ps = append(ps, QuickCheck{Root: root})
	}
	if url != "" {
		ps = append(ps, HTTP{URL: url})
	}
	return ps
}

// Options configure Watch.
type Options struct {
	Probes   []Probe
	Interval time.Duration // between rounds; 30 s when 0
	Failures int           // failed rounds in a row that declare; 3 when 0
	// Rounds stops Watch after this many rounds without a declaration
	// (0: watch until ctx ends).
	Rounds int
	Now    func() time.Time                                 // nil: time.Now
	Sleep  func(ctx context.Context, d time.Duration) error // nil: a real timer
	// Log receives one line per round: the time and each probe's verdict.
	Log func(line string)
	// Round, when set, receives each round as it ends.
	Round func(Round)
}

// Round is one pass over every probe.
type Round struct {
	At      time.Time `json:"at"`
	Results []Result  `json:"results"`
}

// OK reports whether every probe passed.
func (r Round) OK() bool {
	for _, x := range r.Results {
		if !x.OK {
			return false
		}
	}
	return true
}

// Line is the round in one compact line: "2026-12-02T03:00:00Z FAIL
// heartbeat=stale: 3m0s old (max 1m0s) quick_check=ok (1/3)".
func (r Round) Line() string {
	var b strings.Builder
	b.WriteString(r.At.UTC().Format(time.RFC3339))
	if r.OK() {
		b.WriteString(" ok  ")
	} else {
		b.WriteString(" FAIL")
	}
	for _, x := range r.Results {
		fmt.Fprintf(&b, " %s=%s", x.Probe, x.Detail)
	}
	return b.String()
}

// Detection is what Watch returns when the site is declared down.
type Detection struct {
	// At is when the last failed round ran; First when the first of the
	// run of failures did.
	At, First time.Time
	Rounds    []Round // the failed rounds, oldest first
}

// Summary says why the site was declared down, for the incident's title
// and timeline.
func (d Detection) Summary() string {
	last := d.Rounds[len(d.Rounds)-1]
	var why []string
	for _, x := range last.Results {
		if !x.OK {
			why = append(why, x.Probe+": "+x.Detail)
		}
	}
	return fmt.Sprintf("primary failed %d health rounds in a row since %s (%s)", len(d.Rounds),
		d.First.UTC().Format(time.RFC3339), strings.Join(why, "; "))
}

// ErrNoProbes is returned by Watch with nothing to probe.
var ErrNoProbes = errors.New("nothing to probe")

// ErrHealthy is returned by Watch when Rounds ran out with no declaration.
var ErrHealthy = errors.New("no failure detected")

// Watch probes every interval until Failures rounds in a row fail and
// returns the detection; a round that passes resets the count. It returns
// ctx's error when ctx ends first.
func Watch(ctx context.Context, o Options) (Detection, error) {
	if len(o.Probes) == 0 {
		return Detection{}, ErrNoProbes
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	sleep := o.Sleep
	if sleep == nil {
		sleep = realSleep
	}
	interval := o.Interval
	if interval <= 0 {
		interval = 30 * time.Second
	}
	need := o.Failures
	if need <= 0 {
		need = 3
	}
	log := o.Log
	if log == nil {
		log = func(string) {}
	}
	var failing []Round
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			return Detection{}, err
		}
		r := Round{At: now()}
		for _, p := range o.Probes {
			start := now()
			x := p.Probe(ctx, r.At)
			x.Took = now().Sub(start)
			r.Results = append(r.Results, x)
		}
		if o.Round != nil {
			o.Round(r)
		}
		if r.OK() {
			failing = nil
			log(r.Line())
		} else {
			failing = append(failing, r)
			log(fmt.Sprintf("%s (%d/%d)", r.Line(), len(failing), need))
			if len(failing) >= need {
				return Detection{At: r.At, First: failing[0].At, Rounds: failing}, nil
			}
		}
		if o.Rounds > 0 && n >= o.Rounds {
			return Detection{}, ErrHealthy
		}
		if err := sleep(ctx, interval); err != nil {
			return Detection{}, err
		}
	}
}

func realSleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func unwrap(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
