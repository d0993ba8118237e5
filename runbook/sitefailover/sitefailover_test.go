package sitefailover_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/runbook/sitefailover"
	"github.com/drbook/drbook/steps"
	"github.com/drbook/drbook/steps/dns"
	"github.com/drbook/drbook/steps/health"
	"github.com/drbook/drbook/steps/mototest"
	"github.com/drbook/drbook/steps/sandbox"
)

// shiftedClock is real time moved on by whatever the test has slept: a
// sleep returns at once, so the watch's minutes pass instantly, while the
// failover's real work still takes its real time on the timeline.
type shiftedClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *shiftedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *shiftedClock) sleep(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// site is a primary and a secondary sandbox with a counted backup of the
// primary, and moto's Route 53 with the trading record on the primary.
type site struct {
	dir, primary, secondary, backups string
	r53                              *route53.Client
	endpoint, zone                   string
}

func newSite(t testing.TB) site {
	t.Helper()
	srv := mototest.Start(t)
	ctx := context.Background()
	dir := t.TempDir()
	s := site{dir: dir, primary: filepath.Join(dir, "primary"), secondary: filepath.Join(dir, "secondary"),
		backups: filepath.Join(dir, "backups"), endpoint: srv.Endpoint}
	if err := sandbox.Create(ctx, s.primary, sandbox.Options{Trades: sandbox.MinTrades, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	if err := sandbox.Create(ctx, s.secondary, sandbox.Options{Trades: sandbox.MinTrades, Seed: 2}); err != nil {
		t.Fatal(err)
	}
	b, _ := steps.Lookup("backup")
	res, err := b.Run(ctx, steps.Request{Env: steps.Env{Root: s.primary, Drill: true, BackupDir: s.backups}, Params: map[string]string{}}, nil)
	if err != nil || res.Status != steps.StatusOK {
		t.Fatalf("backup: %+v, %v", res, err)
	}
	c, err := dns.NewClient(ctx, srv.Endpoint, "")
	if err != nil {
		t.Fatal(err)
	}
	z, err := c.CreateHostedZone(ctx, &route53.CreateHostedZoneInput{Name: aws.String("quantai.example."), CallerReference: aws.String(t.Name())})
	if err != nil {
		t.Fatal(err)
	}
	s.zone = strings.TrimPrefix(aws.ToString(z.HostedZone.Id), "/hostedzone/")
	_, err = c.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{HostedZoneId: aws.String(s.zone),
		ChangeBatch: &types.ChangeBatch{Changes: []types.Change{{Action: types.ChangeActionCreate, ResourceRecordSet: &types.ResourceRecordSet{
			Name: aws.String("trading.quantai.example."), Type: types.RRTypeA, TTL: aws.Int64(300),
			ResourceRecords: []types.ResourceRecord{{Value: aws.String("10.0.1.10")}}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	s.r53 = c
	return s
}

func (s site) record(t testing.TB) string {
	t.Helper()
	out, err := s.r53.ListResourceRecordSets(context.Background(), &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String(s.zone)})
	if err != nil {
		t.Fatal(err)
	}
	for _, rs := range out.ResourceRecordSets {
		if aws.ToString(rs.Name) == "trading.quantai.example." && rs.Type == types.RRTypeA && len(rs.ResourceRecords) == 1 {
			return aws.ToString(rs.ResourceRecords[0].Value)
		}
	}
	return ""
}

// corrupt overwrites the database header, as a dying disk does.
func corrupt(t testing.TB, root string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(root, "data", "quantai.db"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte(strings.Repeat("\x00", 100)), 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// The primary dies (its heartbeat stops and its database is corrupted);
// the watch sees three failed rounds, declares the Sev-1 drill and runs the
// automatic failover: kill switch, promotion of the secondary from the
// counted backup, the DNS switch against moto's Route 53, the load
// balancer hook and the verification, each a timed step on the timeline.
func TestWatchDetectsTheDeadPrimaryAndFailsOver(t *testing.T) {
	if testing.Short() {
		t.Skip("creates two sandboxes and runs moto_server")
	}
	s := newSite(t)
	ctx := context.Background()
	clock := &shiftedClock{}
	if err := sandbox.WriteHeartbeat(s.primary, clock.Now()); err != nil {
		t.Fatal(err)
	}

	// Rounds 1 and 2 are healthy: the trading loop beats. Then it stops
	// and the disk eats the database.
	round := 0
	var log []string
	det, err := health.Watch(ctx, health.Options{
		Probes:   health.Probes(s.primary, 2*time.Minute, true, ""),
		Interval: 30 * time.Second, Failures: 3, Now: clock.Now,
		Sleep: func(_ context.Context, d time.Duration) error {
			round++
			clock.sleep(d)
			if round < 2 {
				return sandbox.WriteHeartbeat(s.primary, clock.Now())
			}
			if round == 2 {
				corrupt(t, s.primary)
			}
			return nil
		},
		Log: func(l string) { log = append(log, l) },
	})
	if err != nil {
		t.Fatalf("watch: %v\n%s", err, strings.Join(log, "\n"))
	}
	if len(log) != 5 || !strings.Contains(log[1], " ok ") || !strings.Contains(log[4], "FAIL") || !strings.HasSuffix(log[4], "(3/3)") ||
		len(det.Rounds) != 3 || !strings.Contains(det.Summary(), "quick_check") {
		t.Fatalf("watch log:\n%s\ndetection %+v", strings.Join(log, "\n"), det)
	}
	t.Logf("watch log:\n%s", strings.Join(log, "\n"))

	rb, err := runbook.Load(sitefailover.AutomaticRunbook, nil)
	if err != nil {
		t.Fatal(err)
	}
	store, err := incident.OpenStore(filepath.Join(s.dir, "state"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	lbDone := filepath.Join(s.dir, "lb-moved")
	var out strings.Builder
	res, err := sitefailover.Declare(ctx, det, sitefailover.Options{
		Store: store, Runbook: rb, Primary: s.primary, Drill: true, Automatic: true, Clock: clock, Out: &out,
		Env: steps.Env{BackupDir: s.backups},
		Vars: map[string]string{"SECONDARY_ROOT": s.secondary, "DNS_ZONE": "quantai.example", "DNS_RECORD": "trading.quantai.example",
			"DNS_VALUE": "10.0.2.20", "DNS_TTL": "30", "DNS_ENDPOINT": s.endpoint, "LB_HOOK": "echo secondary > " + lbDone},
	})
	t.Logf("failover:\n%s", out.String())
	if err != nil {
		t.Fatal(err)
	}
	// The primary's database is dead: the kill switch's halt holds by its
	// flag file, and the step is done with that finding.
	if !res.OK() || res.DNSStatus != "ok" || res.DNSAt.IsZero() || len(res.Steps) == 0 || res.Steps[0].Status != "ok" ||
		!strings.Contains(res.Steps[0].Summary, "flag file alone halts trading") {
		t.Fatalf("failover result %+v", res)
	}
	t.Logf("detection to DNS switched: %s; first failed probe to DNS: %s (plan: automatic failover in under 5 minutes)",
		res.DetectionToDNS.Round(time.Millisecond), res.FirstFailureToDNS.Round(time.Millisecond))
	if _, err := os.Stat(filepath.Join(s.primary, "data", "KILL_SWITCH")); err != nil {
		t.Errorf("the primary's kill switch flag: %v", err)
	}

	if got := s.record(t); got != "10.0.2.20" {
		t.Fatalf("trading.quantai.example reads %q, want the secondary 10.0.2.20", got)
	}
	if b, err := os.ReadFile(lbDone); err != nil || strings.TrimSpace(string(b)) != "secondary" {
		t.Fatalf("load balancer hook did not run: %q, %v", b, err)
	}
	// The secondary now holds the primary's backup, the old files aside.
	aside, _ := filepath.Glob(filepath.Join(s.secondary, "data", "quantai.db.pre-restore-*"))
	if len(aside) == 0 {
		t.Errorf("the secondary's database was not replaced by the backup")
	}

	// Every step is on the timeline, in order, with its duration and outcome.
	events, err := store.Events(ctx, res.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ step, action, status string }{
		{"kill-primary", "kill-switch", ""}, // the primary's database is gone: the flag file holds, the step may report problems
		{"promote-secondary", "standby-promote", "ok"},
		{"dns-switch", "dns-switch", "ok"},
		{"load-balancer-hook", "shell", "ok"},
		{"verify-secondary", "standby-verify", "ok"},
	}
	i := 0
	for _, e := range events {
		if e.Kind != incident.KindActionFinished || i >= len(want) {
			continue
		}
		w := want[i]
		if !strings.HasSuffix(e.Step, "/"+w.step) || (w.status != "" && e.Data.Status != w.status) {
			t.Errorf("finished action %d: step %s status %s (%s), want %s %s", i, e.Step, e.Data.Status, e.Data.Summary, w.step, w.status)
		}
		if e.Data.DurationMS <= 0 && w.action != "kill-switch" && w.action != "shell" {
			t.Errorf("step %s has no duration on the timeline", e.Step)
		}
		i++
	}
	if i != len(want) {
		t.Fatalf("%d action steps finished on the timeline, want %d", i, len(want))
	}
	st, err := store.Incidents(ctx)
	if err != nil || len(st) != 1 || st[0].Severity != 1 || st[0].Status != incident.StatusOpen || st[0].Runbook != "site-failover" {
		t.Fatalf("incidents %+v, %v", st, err)
	}
	if id, err := sitefailover.Open(ctx, store, true); id != res.ID || err == nil {
		t.Errorf("open failover = %q, %v; want %s", id, err, res.ID)
	}
	if id, err := sitefailover.Open(ctx, store, false); id != "" || err != nil {
		t.Errorf("an open drill stops the live watch: %q, %v", id, err)
	}
}

// With automatic failover off, the watch declares the incident with the
// manual runbook and runs nothing.
func TestManualFailoverOnlyDeclares(t *testing.T) {
	dir := t.TempDir()
	primary := filepath.Join(dir, "primary")
	if err := sandbox.Create(context.Background(), primary, sandbox.Options{Trades: sandbox.MinTrades}); err != nil {
		t.Fatal(err)
	}
	rb, err := runbook.Load(sitefailover.ManualRunbook, nil)
	if err != nil {
		t.Fatal(err)
	}
	store, err := incident.OpenStore(filepath.Join(dir, "state"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	at := time.Now().Add(-time.Minute)
	det := health.Detection{At: at, First: at, Rounds: []health.Round{{At: at, Results: []health.Result{{Probe: "heartbeat", Detail: "stale"}}}}}
	res, err := sitefailover.Declare(context.Background(), det, sitefailover.Options{Store: store, Runbook: rb, Primary: primary})
	if err != nil || res.ID == "" || len(res.Steps) != 0 || res.OK() {
		t.Fatalf("manual: %+v, %v", res, err)
	}
	ev, err := store.Events(context.Background(), res.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ev {
		if e.Kind == incident.KindActionStarted {
			t.Errorf("manual failover ran %s", e.Step)
		}
	}
}

// BenchmarkDetectionToDNS measures the automatic failover from the watch's
// declaration to the DNS record switched and verified on moto's Route 53,
// and reports it as ms/detection-to-dns (the plan allows 5 minutes). Run
// it with -benchtime=1x: each iteration builds two sandboxes.
func BenchmarkDetectionToDNS(b *testing.B) {
	ctx := context.Background()
	rb, err := runbook.Load(sitefailover.AutomaticRunbook, nil)
	if err != nil {
		b.Fatal(err)
	}
	var total time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s := newSite(b)
		corrupt(b, s.primary)
		store, err := incident.OpenStore(filepath.Join(s.dir, "state"))
		if err != nil {
			b.Fatal(err)
		}
		at := time.Now()
		det := health.Detection{At: at, First: at, Rounds: []health.Round{{At: at, Results: []health.Result{{Probe: "quick_check", Detail: "damaged"}}}}}
		b.StartTimer()
		res, err := sitefailover.Declare(ctx, det, sitefailover.Options{
			Store: store, Runbook: rb, Primary: s.primary, Drill: true, Automatic: true, Env: steps.Env{BackupDir: s.backups},
			Vars: map[string]string{"SECONDARY_ROOT": s.secondary, "DNS_ZONE": "quantai.example", "DNS_RECORD": "trading.quantai.example",
				"DNS_VALUE": "10.0.2.20", "DNS_ENDPOINT": s.endpoint},
		})
		b.StopTimer()
		if err != nil || !res.OK() || s.record(b) != "10.0.2.20" {
			b.Fatalf("failover: %+v, %v", res, err)
		}
		total += res.DetectionToDNS
		_ = store.Close()
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/detection-to-dns")
}
