package health_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drbook/drbook/steps/health"
	"github.com/drbook/drbook/steps/sandbox"
)

func mustSandbox(tb testing.TB, faults ...string) string {
	tb.Helper()
	root := filepath.Join(tb.TempDir(), "primary")
	if err := sandbox.Create(context.Background(), root, sandbox.Options{Trades: sandbox.MinTrades}); err != nil {
		tb.Fatal(err)
	}
	for _, f := range faults {
		if err := sandbox.Inject(root, f); err != nil {
			tb.Fatal(err)
		}
	}
	return root
}

func TestHeartbeatFileIsTheSandboxes(t *testing.T) {
	if health.HeartbeatFile != sandbox.HeartbeatFile {
		t.Fatalf("health reads %s, the sandbox writes %s", health.HeartbeatFile, sandbox.HeartbeatFile)
	}
}

func TestHeartbeatProbe(t *testing.T) {
	root := mustSandbox(t)
	now := time.Now()
	if err := sandbox.WriteHeartbeat(root, now.Add(-30*time.Second)); err != nil {
		t.Fatal(err)
	}
	p := health.Heartbeat{Path: filepath.Join(root, health.HeartbeatFile), MaxAge: time.Minute}
	if r := p.Probe(context.Background(), now); !r.OK || r.Detail != "30s old" {
		t.Errorf("fresh heartbeat: %+v", r)
	}
	if r := p.Probe(context.Background(), now.Add(time.Minute)); r.OK || !strings.Contains(r.Detail, "stale: 1m30s old") {
		t.Errorf("stale heartbeat: %+v", r)
	}
	if err := os.Remove(p.Path); err != nil {
		t.Fatal(err)
	}
	if r := p.Probe(context.Background(), now); r.OK || !strings.Contains(r.Detail, "no such file") {
		t.Errorf("no heartbeat: %+v", r)
	}
}

// Every database fault the sandbox knows fails the probe; the probe reads
// only: the database's bytes are the same afterwards.
func TestQuickCheckProbeCatchesDamageAndChangesNothing(t *testing.T) {
	root := mustSandbox(t)
	db := filepath.Join(root, "data", "quantai.db")
	before, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	if r := (health.QuickCheck{Root: root}).Probe(context.Background(), time.Now()); !r.OK || r.Detail != "ok" {
		t.Fatalf("healthy database: %+v", r)
	}
	after, err := os.ReadFile(db)
	if err != nil || !bytes.Equal(before, after) {
		t.Fatalf("the probe changed the database (%v)", err)
	}
	if left, _ := filepath.Glob(db + "-*"); len(left) != 0 {
		t.Fatalf("the probe left files next to the database: %v", left)
	}
	for _, f := range []string{"corrupt-db", "torn-page", "delete-db"} {
		root := mustSandbox(t, f)
		r := (health.QuickCheck{Root: root}).Probe(context.Background(), time.Now())
		if r.OK || r.Detail == "" {
			t.Errorf("%s: %+v", f, r)
		}
	}
	// A file that is not a database at all, as a disk that ate the header.
	if err := os.WriteFile(db, bytes.Repeat([]byte{0}, 8192), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := (health.QuickCheck{Root: root}).Probe(context.Background(), time.Now()); r.OK {
		t.Errorf("zeroed database: %+v", r)
	}
}

func TestHTTPProbe(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	}))
	p := health.HTTP{URL: srv.URL + "/health"}
	if r := p.Probe(context.Background(), time.Now()); !r.OK || r.Detail != "200 OK" {
		t.Errorf("200: %+v", r)
	}
	status = http.StatusServiceUnavailable
	if r := p.Probe(context.Background(), time.Now()); r.OK || !strings.Contains(r.Detail, "503") {
		t.Errorf("503: %+v", r)
	}
	srv.Close()
	if r := p.Probe(context.Background(), time.Now()); r.OK || r.Detail == "" {
		t.Errorf("server gone: %+v", r)
	}
}

// cue is a probe that fails in the rounds it is told to.
type cue struct {
	fail  map[int]bool
	round int
}

func (c *cue) Name() string { return "cue" }
func (c *cue) Probe(context.Context, time.Time) health.Result {
	c.round++
	if c.fail[c.round] {
		return health.Result{Probe: "cue", Detail: "down"}
	}
	return health.Result{Probe: "cue", OK: true, Detail: "up"}
}

type fakeClock struct{ now time.Time }

func (f *fakeClock) Now() time.Time { return f.now }
func (f *fakeClock) Sleep(_ context.Context, d time.Duration) error {
	f.now = f.now.Add(d)
	return nil
}

// Two failures, a recovery, then three failures: only the second run of
// failures declares, at the fake clock's time of its third round.
func TestWatchDeclaresAfterConsecutiveFailures(t *testing.T) {
	start := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	fc := &fakeClock{now: start}
	p := &cue{fail: map[int]bool{2: true, 3: true, 5: true, 6: true, 7: true}}
	var lines []string
	det, err := health.Watch(context.Background(), health.Options{Probes: []health.Probe{p}, Interval: 30 * time.Second, Failures: 3,
		Now: fc.Now, Sleep: fc.Sleep, Log: func(l string) { lines = append(lines, l) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 7 || !det.First.Equal(start.Add(2*time.Minute)) || !det.At.Equal(start.Add(3*time.Minute)) || len(det.Rounds) != 3 {
		t.Fatalf("detection %+v\n%s", det, strings.Join(lines, "\n"))
	}
	if lines[2] != "2026-12-02T03:01:00Z FAIL cue=down (2/3)" || lines[3] != "2026-12-02T03:01:30Z ok   cue=up" {
		t.Errorf("log lines:\n%s", strings.Join(lines, "\n"))
	}
	if s := det.Summary(); !strings.Contains(s, "3 health rounds in a row since 2026-12-02T03:02:00Z (cue: down)") {
		t.Errorf("summary %q", s)
	}

	// Healthy rounds run out; a cancelled context stops the watch.
	fc = &fakeClock{now: start}
	if _, err := health.Watch(context.Background(), health.Options{Probes: []health.Probe{&cue{}}, Rounds: 4, Now: fc.Now, Sleep: fc.Sleep}); !errors.Is(err, health.ErrHealthy) {
		t.Errorf("healthy: %v", err)
	}
	if !fc.now.Equal(start.Add(3 * 30 * time.Second)) {
		t.Errorf("four rounds slept until %s", fc.now)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := health.Watch(ctx, health.Options{Probes: []health.Probe{&cue{}}}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	if _, err := health.Watch(context.Background(), health.Options{}); !errors.Is(err, health.ErrNoProbes) {
		t.Errorf("no probes: %v", err)
	}
}
