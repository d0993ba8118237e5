package incident_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/steps/mototest"
)

// bucketCount makes every test's bucket unique within one moto_server.
var bucketCount atomic.Int64

// siteNet is a site's network: a dialer that reaches the S3 endpoint while
// up and a closed loopback port while down (connection refused, as a jump
// host that lost its network sees).
type siteNet struct {
	endpoint string // host:port of moto
	closed   string // host:port nobody listens on
	down     atomic.Bool
}

func newSiteNet(t testing.TB, endpoint string) *siteNet {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	closed := l.Addr().String()
	l.Close()
	return &siteNet{endpoint: strings.TrimPrefix(endpoint, "http://"), closed: closed}
}

func (n *siteNet) client() *http.Client {
	d := &net.Dialer{Timeout: 2 * time.Second}
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			if n.down.Load() {
				return d.DialContext(ctx, network, n.closed)
			}
			return d.DialContext(ctx, network, n.endpoint)
		},
		DisableKeepAlives: true,
	}}
}

// s3env is a bucket in a real S3 API server (moto) for one test.
type s3env struct {
	endpoint string
	url      string // s3://bucket/prefix
	bucket   string
	client   *s3.Client
}

func newS3Env(t testing.TB, srv *mototest.Server) *s3env {
	t.Helper()
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion("us-east-1"))
	must(t, err)
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(srv.Endpoint)
		o.UsePathStyle = true
	})
	bucket := fmt.Sprintf("drbook-state-%d", bucketCount.Add(1))
	_, err = client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket})
	must(t, err)
	return &s3env{endpoint: srv.Endpoint, url: "s3://" + bucket + "/site-state", bucket: bucket, client: client}
}

// site is one host: its own state directory and replicator.
type site struct {
	dir   string
	store *incident.Store
	rep   *incident.Replicator
	net   *siteNet
}

func newSite(t testing.TB, env *s3env, dir string, opts incident.ReplicatorOptions) *site {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	st, err := incident.OpenStore(dir)
	must(t, err)
	t.Cleanup(func() { st.Close() })
	sn := newSiteNet(t, env.endpoint)
	r, err := incident.NewReplica(ctx, incident.ReplicaConfig{URL: env.url, Endpoint: env.endpoint, HTTPClient: sn.client()})
	must(t, err)
	return &site{dir: dir, store: st, rep: incident.NewReplicator(st, r, opts), net: sn}
}

// remoteEvent is an event object as S3 holds it.
type remoteEvent struct {
	Incident string          `json:"incident"`
	Seq      int64           `json:"seq"`
	At       string          `json:"at"`
	Kind     string          `json:"kind"`
	Phase    string          `json:"phase"`
	Step     string          `json:"step"`
	Actor    string          `json:"actor"`
	Data     json.RawMessage `json:"data"`
	PrevHash string          `json:"prev_hash"`
	Hash     string          `json:"hash"`
}

// chainHash recomputes an event's hash the way drbook documents it:
// sha256(prev_hash "\n" JSON [incident, seq, at, kind, phase, step, actor, data]).
func chainHash(prev, id string, seq int64, at, kind, phase, step, actor, data string) string {
	canon, _ := json.Marshal([]any{id, seq, at, kind, phase, step, actor, data})
	h := sha256.Sum256([]byte(prev + "\n" + string(canon)))
	return hex.EncodeToString(h[:])
}

// remoteTimeline reads every object under the incident's events/ prefix
// and checks the chain end to end, independently of drbook's code.
func (e *s3env) remoteTimeline(t testing.TB, id string) []remoteEvent {
	t.Helper()
	prefix := "site-state/incidents/" + id + "/events/"
	out, err := e.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &e.bucket, Prefix: &prefix})
	must(t, err)
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	sort.Strings(keys)
	var evs []remoteEvent
	prev := ""
	for i, k := range keys {
		if want := fmt.Sprintf("%s%012d.json", prefix, i+1); k != want {
			t.Fatalf("S3 object %d is %s, want %s", i+1, k, want)
		}
		obj, err := e.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &e.bucket, Key: &k})
		must(t, err)
		b, err := io.ReadAll(obj.Body)
		obj.Body.Close()
		must(t, err)
		var ev remoteEvent
		must(t, json.Unmarshal(b, &ev))
		if ev.Seq != int64(i+1) || ev.Incident != id || ev.PrevHash != prev {
			t.Fatalf("S3 event %d: seq %d, incident %s, prev %q: does not chain on from %q", i+1, ev.Seq, ev.Incident, ev.PrevHash, prev)
		}
		if h := chainHash(ev.PrevHash, id, ev.Seq, ev.At, ev.Kind, ev.Phase, ev.Step, ev.Actor, string(ev.Data)); h != ev.Hash {
			t.Fatalf("S3 event %d: hash %s, content hashes to %s", ev.Seq, ev.Hash, h)
		}
		prev = ev.Hash
		evs = append(evs, ev)
	}
	return evs
}

func mustSync(t testing.TB, s *site, id string) incident.SyncResult {
	t.Helper()
	res, err := s.rep.Sync(ctx, id)
	if err != nil {
		t.Fatalf("sync %s: %v", s.dir, err)
	}
	return res
}

// converge syncs the sites in turn until a whole round moves nothing.
func converge(t testing.TB, id string, sites ...*site) {
	t.Helper()
	for round := 0; round < 50; round++ {
		moved := 0
		for _, s := range sites {
			res := mustSync(t, s, id)
			moved += res.Pushed + res.Pulled + len(res.Rebases)
		}
		if moved == 0 {
			return
		}
	}
	t.Fatal("sites did not converge in 50 rounds")
}

func localHashes(t testing.TB, s *incident.Store, id string) []string {
	t.Helper()
	evs, err := s.Events(ctx, id)
	must(t, err)
	var out []string
	for _, e := range evs {
		out = append(out, e.Hash)
	}
	return out
}

func declareReplicated(t testing.TB, env *s3env, a *site, id string) *incident.Incident {
	t.Helper()
	in := MustDeclare(t, a.store, incident.NewManualClock(t0), incident.DeclareOptions{ID: id})
	if n := a.rep.Pending(id); n != 1 {
		t.Fatalf("pending after declare = %d, want 1", n)
	}
	mustSync(t, a, id)
	if got := a.rep.Status(id); got != "replicated" {
		t.Fatalf("status = %q, want replicated", got)
	}
	return in
}

func TestReplicaConcurrentSitesNeverFork(t *testing.T) {
	srv := mototest.Start(t)
	env := newS3Env(t, srv)
	a := newSite(t, env, "", incident.ReplicatorOptions{Poll: 20 * time.Millisecond})
	b := newSite(t, env, "", incident.ReplicatorOptions{Poll: 20 * time.Millisecond})
	const id = "INC-TWO-SITES"
	declareReplicated(t, env, a, id)
	n, err := b.rep.Fetch(ctx, id)
	must(t, err)
	if n != 1 {
		t.Fatalf("fetched %d events, want 1", n)
	}

	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, s := range []*site{a, b} {
		wg.Add(1)
		go func() { defer wg.Done(); s.rep.Run(runCtx) }()
	}
	// Both sites write at once: notes (facts, always kept) and the same
	// step (an intent only one site's event may carry).
	const perSite = 12
	var writers sync.WaitGroup
	for name, s := range map[string]*site{"a": a, "b": b} {
		in, err := incident.Open(ctx, s.store, id, nil, incident.NewManualClock(t0.Add(time.Minute)), incident.OpenOptions{Operator: incident.Operator{Name: name}})
		must(t, err)
		writers.Add(1)
		go func() {
			defer writers.Done()
			for i := 0; i < perSite; i++ {
				if err := in.Note(fmt.Sprintf("note %s-%d", name, i)); err != nil {
					t.Errorf("site %s note %d: %v", name, i, err)
				}
				if i == perSite/2 {
					if err := in.DoneStep("immediate/halt", "halted by "+name); err != nil && !errors.Is(err, incident.ErrTransition) {
						t.Errorf("site %s done: %v", name, err)
					}
				}
			}
		}()
	}
	writers.Wait()
	stop()
	wg.Wait()
	converge(t, id, a, b)

	remote := env.remoteTimeline(t, id)
	ha, hb := localHashes(t, a.store, id), localHashes(t, b.store, id)
	if len(ha) != len(remote) || len(hb) != len(remote) {
		t.Fatalf("events: site a %d, site b %d, S3 %d", len(ha), len(hb), len(remote))
	}
	count := map[string]int{}
	dones := 0
	for i, ev := range remote {
		if ha[i] != ev.Hash || hb[i] != ev.Hash {
			t.Fatalf("event %d: a %s, b %s, S3 %s: the chain forked", ev.Seq, ha[i], hb[i], ev.Hash)
		}
		var d incident.EventData
		must(t, json.Unmarshal(ev.Data, &d))
		if ev.Kind == string(incident.KindNote) {
			count[d.Text]++
		}
		if ev.Kind == string(incident.KindStepDone) && ev.Step == "immediate/halt" {
			dones++
		}
	}
	for _, name := range []string{"a", "b"} {
		for i := 0; i < perSite; i++ {
			if c := count[fmt.Sprintf("note %s-%d", name, i)]; c != 1 {
				t.Errorf("note %s-%d is in S3 %d times, want exactly once", name, i, c)
			}
		}
	}
	if dones != 1 {
		t.Errorf("step immediate/halt done %d times in the shared timeline, want 1", dones)
	}
	for _, s := range []*site{a, b} {
		res, err := s.rep.Verify(ctx, id)
		must(t, err)
		if !res.OK || res.Replicated != len(remote) || res.LocalOnly != 0 || res.RemoteOnly != 0 {
			t.Errorf("verify %s: %+v", s.dir, res)
		}
		if p := s.rep.Pending(id); p != 0 {
			t.Errorf("pending on %s = %d", s.dir, p)
		}
	}
}

func TestReplicaRebaseReportsIntentDoneElsewhere(t *testing.T) {
	srv := mototest.Start(t)
	env := newS3Env(t, srv)
	a := newSite(t, env, "", incident.ReplicatorOptions{})
	b := newSite(t, env, "", incident.ReplicatorOptions{})
	const id = "INC-REBASE"
	ina := declareReplicated(t, env, a, id)
	watcher, err := incident.Open(ctx, a.store, id, nil, incident.NewManualClock(t0), incident.OpenOptions{}) // a follower on site a
	must(t, err)
	_, err = b.rep.Fetch(ctx, id)
	must(t, err)
	inb, err := incident.Open(ctx, b.store, id, nil, incident.NewManualClock(t0.Add(time.Minute)), incident.OpenOptions{Operator: incident.Operator{Name: "bob"}})
	must(t, err)

	// B halts trading and says so first; A, offline meanwhile, does too.
	must(t, inb.DoneStep("immediate/halt", "bob halted"))
	must(t, inb.Note("from bob"))
	mustSync(t, b, id)
	must(t, ina.DoneStep("immediate/halt", "alice halted"))
	must(t, ina.Note("from alice"))
	if _, err := watcher.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if s := watcher.State().Step("immediate/halt"); s.Reason != "alice halted" {
		t.Fatalf("a's follower before the rebase: %q", s.Reason)
	}
	res := mustSync(t, a, id)
	if len(res.Rebases) != 1 {
		t.Fatalf("rebases = %+v, want one", res.Rebases)
	}
	rb := res.Rebases[0]
	var droppedDone bool
	for _, d := range rb.Dropped {
		if d.Kind == incident.KindStepDone && d.Step == "immediate/halt" && strings.Contains(d.Reason, "another site") &&
			d.Event.Data.Text == "alice halted" {
			droppedDone = true
		}
		if d.Kind == incident.KindNote {
			t.Errorf("a note was dropped: %+v", d)
		}
	}
	if !droppedDone {
		t.Fatalf("alice's step_done was not reported as done elsewhere: %+v", rb.Dropped)
	}

	// A follower that applied a's queued events notices the re-sequenced
	// timeline and reloads it.
	if _, err := watcher.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if s := watcher.State().Step("immediate/halt"); s.Status != incident.StepDone || s.Reason != "bob halted" {
		t.Fatalf("halt for a's follower after refresh: %s %q, want done by bob", s.Status, s.Reason)
	}
	// A's in-memory incident notices the re-sequenced timeline and goes on.
	must(t, ina.Note("after the rebase"))
	st := ina.State()
	if s := st.Step("immediate/halt"); s.Status != incident.StepDone || s.Reason != "bob halted" {
		t.Fatalf("halt on site a: %s %q, want done by bob", s.Status, s.Reason)
	}
	converge(t, id, a, b)
	remote := env.remoteTimeline(t, id)
	var kinds []string
	notes := map[string]int{}
	for _, ev := range remote {
		kinds = append(kinds, ev.Kind)
		var d incident.EventData
		must(t, json.Unmarshal(ev.Data, &d))
		if ev.Kind == "note" {
			notes[d.Text]++
		}
	}
	if notes["from bob"] != 1 || notes["from alice"] != 1 || notes["after the rebase"] != 1 {
		t.Errorf("notes in S3: %v", notes)
	}
	if !strings.Contains(strings.Join(kinds, " "), "rebased") {
		t.Errorf("no rebased event in S3: %v", kinds)
	}
	if got, want := localHashes(t, b.store, id), localHashes(t, a.store, id); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("sites differ after sync")
	}
}

func TestReplicaKilledMidSyncConverges(t *testing.T) {
	srv := mototest.Start(t)
	env := newS3Env(t, srv)
	dir := t.TempDir()
	killed := errors.New("killed after the PUT")
	a := newSite(t, env, dir, incident.ReplicatorOptions{AfterPut: func(id string, seq int64) error {
		if seq == 3 {
			return killed
		}
		return nil
	}})
	const id = "INC-KILLED"
	in := MustDeclare(t, a.store, incident.NewManualClock(t0), incident.DeclareOptions{ID: id})
	for i := 0; i < 4; i++ {
		must(t, in.Note(fmt.Sprintf("n%d", i)))
	}
	if _, err := a.rep.Sync(ctx, id); !errors.Is(err, killed) {
		t.Fatalf("sync = %v, want the kill", err)
	}
	if p := a.rep.Pending(id); p != 3 {
		t.Fatalf("pending after the kill = %d, want 3 (event 3 is in S3 but not marked)", p)
	}
	if got := len(env.remoteTimeline(t, id)); got != 3 {
		t.Fatalf("S3 holds %d events, want 3", got)
	}
	// The process restarts: a new store and replicator on the same directory.
	a.store.Close()
	again := newSite(t, env, dir, incident.ReplicatorOptions{})
	res := mustSync(t, again, id)
	if len(res.Rebases) != 0 || res.Pushed != 3 {
		t.Fatalf("after restart: %+v, want 3 pushed (event 3 recognised as ours) and no rebase", res)
	}
	remote := env.remoteTimeline(t, id)
	if len(remote) != 5 || again.rep.Pending(id) != 0 {
		t.Fatalf("S3 %d events, pending %d", len(remote), again.rep.Pending(id))
	}
	if got := strings.Join(localHashes(t, again.store, id), ","); got != hashesOf(remote) {
		t.Fatal("local and S3 timelines differ")
	}
}

func hashesOf(evs []remoteEvent) string {
	var hs []string
	for _, e := range evs {
		hs = append(hs, e.Hash)
	}
	return strings.Join(hs, ",")
}

// manualAfter is an injectable timer: each wait is announced on asked and
// fires when the test sends on fire.
type manualAfter struct {
	asked chan time.Duration
	fire  chan time.Time
	quit  chan struct{}
}

func (m *manualAfter) after(d time.Duration) <-chan time.Time {
	select {
	case m.asked <- d:
	case <-m.quit:
	}
	return m.fire
}

func TestReplicaOfflineQueuesAndPushesInOrder(t *testing.T) {
	srv := mototest.Start(t)
	env := newS3Env(t, srv)
	timer := &manualAfter{asked: make(chan time.Duration), fire: make(chan time.Time), quit: make(chan struct{})}
	a := newSite(t, env, "", incident.ReplicatorOptions{After: timer.after, Poll: time.Hour,
		MinBackoff: 100 * time.Millisecond, MaxBackoff: 400 * time.Millisecond})
	const id = "INC-OFFLINE"
	a.net.down.Store(true)
	in := MustDeclare(t, a.store, incident.NewManualClock(t0), incident.DeclareOptions{ID: id})
	for i := 0; i < 5; i++ {
		must(t, in.Note(fmt.Sprintf("offline %d", i))) // never waits on the network
	}
	if got := a.rep.Status(id); got != "6 events not yet replicated" {
		t.Fatalf("status = %q", got)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); a.rep.Run(runCtx) }()
	defer func() { stop(); close(timer.quit); <-done }()
	var waits []time.Duration
	for i := 0; i < 4; i++ {
		waits = append(waits, <-timer.asked)
		if a.rep.Err() == nil {
			t.Fatal("no error while the endpoint is down")
		}
		if i < 3 {
			timer.fire <- time.Time{}
		}
	}
	if fmt.Sprint(waits) != "[100ms 200ms 400ms 400ms]" {
		t.Fatalf("backoff waits = %v, want doubling to the cap", waits)
	}
	if p := a.rep.Pending(id); p != 6 {
		t.Fatalf("pending while offline = %d", p)
	}
	a.net.down.Store(false)
	timer.fire <- time.Time{}
	if d := <-timer.asked; d != time.Hour {
		t.Fatalf("after the network returned the replicator waits %v, want the poll interval (a clean pass)", d)
	}
	if a.rep.Err() != nil || a.rep.Pending(id) != 0 || a.rep.Status(id) != "replicated" {
		t.Fatalf("err %v, pending %d", a.rep.Err(), a.rep.Pending(id))
	}
	remote := env.remoteTimeline(t, id)
	if len(remote) != 6 {
		t.Fatalf("S3 holds %d events", len(remote))
	}
	for i, ev := range remote[1:] {
		var d incident.EventData
		must(t, json.Unmarshal(ev.Data, &d))
		if d.Text != fmt.Sprintf("offline %d", i) {
			t.Errorf("event %d is %q: out of order", ev.Seq, d.Text)
		}
	}
}

func TestReplicaContinuesOnAnotherSiteAfterLoss(t *testing.T) {
	srv := mototest.Start(t)
	env := newS3Env(t, srv)
	dirA := t.TempDir()
	a := newSite(t, env, dirA, incident.ReplicatorOptions{})
	const id = "INC-SITE-LOSS"
	in := declareReplicated(t, env, a, id)
	must(t, in.DoneStep("immediate/halt", "halted"))
	must(t, in.Note("primary site going dark"))
	mustSync(t, a, id)
	a.store.Close()
	must(t, os.RemoveAll(dirA)) // the site and its state database are gone

	b := newSite(t, env, filepath.Join(t.TempDir(), "empty"), incident.ReplicatorOptions{})
	only, err := b.rep.RemoteOnly(ctx)
	must(t, err)
	if len(only) != 1 || only[0].ID != id || only[0].Runbook != "test-recovery" {
		t.Fatalf("incidents known only in S3: %+v", only)
	}
	n, err := b.rep.Fetch(ctx, id)
	must(t, err)
	if n != 4 {
		t.Fatalf("fetched %d events, want 4", n)
	}
	v, err := b.rep.Verify(ctx, id)
	must(t, err)
	if !v.OK || v.Replicated != 4 {
		t.Fatalf("verify on site b: %+v", v)
	}
	inb, err := incident.Open(ctx, b.store, id, nil, incident.NewManualClock(t0.Add(time.Hour)), incident.OpenOptions{Operator: incident.Operator{Name: "bob"}, Resume: true})
	must(t, err)
	if s := inb.State().Step("immediate/halt"); s.Status != incident.StepDone {
		t.Fatalf("halt on site b: %s", s.Status)
	}
	must(t, inb.DoneStep("immediate/notify", "told them"))
	mustSync(t, b, id)
	remote := env.remoteTimeline(t, id) // verified end to end
	if got := strings.Join(localHashes(t, b.store, id), ","); got != hashesOf(remote) || len(remote) < 6 {
		t.Fatalf("site b and S3 differ (%d events in S3)", len(remote))
	}
	// A third, empty site rebuilds the same chain.
	c := newSite(t, env, "", incident.ReplicatorOptions{})
	_, err = c.rep.Fetch(ctx, id)
	must(t, err)
	if got := strings.Join(localHashes(t, c.store, id), ","); got != hashesOf(remote) {
		t.Fatal("site c rebuilt a different chain")
	}
}

func TestReplicaVerifyCatchesRecomputedEdit(t *testing.T) {
	srv := mototest.Start(t)
	env := newS3Env(t, srv)
	a := newSite(t, env, "", incident.ReplicatorOptions{})
	const id = "INC-FORGED"
	in := declareReplicated(t, env, a, id)
	must(t, in.Note("we lost 40 minutes of trades"))
	must(t, in.Note("restore started"))
	mustSync(t, a, id)

	// The forger rewrites event 2 and recomputes every hash after it and
	// the head, so the local chain alone checks out.
	db := rawDB(t, a.store)
	rows, err := db.Query(`SELECT seq, at, kind, phase, step, actor, data FROM events WHERE incident_id = ? ORDER BY seq`, id)
	must(t, err)
	type row struct {
		seq                                int64
		at, kind, phase, step, actor, data string
	}
	var all []row
	for rows.Next() {
		var r row
		must(t, rows.Scan(&r.seq, &r.at, &r.kind, &r.phase, &r.step, &r.actor, &r.data))
		all = append(all, r)
	}
	rows.Close()
	prev := ""
	for _, r := range all {
		if r.seq == 2 {
			r.data = strings.Replace(r.data, "40 minutes", "4 minutes", 1)
		}
		h := chainHash(prev, id, r.seq, r.at, r.kind, r.phase, r.step, r.actor, r.data)
		_, err := db.Exec(`UPDATE events SET data = ?, prev_hash = ?, hash = ? WHERE incident_id = ? AND seq = ?`, r.data, prev, h, id, r.seq)
		must(t, err)
		prev = h
	}
	_, err = db.Exec(`UPDATE incidents SET head_hash = ? WHERE id = ?`, prev, id)
	must(t, err)

	local, err := a.store.Verify(ctx, id)
	must(t, err)
	if !local.OK {
		t.Fatalf("the forgery should pass the local check alone: %+v", local)
	}
	v, err := a.rep.Verify(ctx, id)
	must(t, err)
	if v.OK || v.BadSeq != 2 || !strings.Contains(v.Problem, "rewritten") {
		t.Fatalf("verify against S3 = %+v, want event 2 caught", v)
	}
}

func TestReplicaRefusesTamperedObject(t *testing.T) {
	srv := mototest.Start(t)
	env := newS3Env(t, srv)
	a := newSite(t, env, "", incident.ReplicatorOptions{})
	const id = "INC-BAD-OBJECT"
	in := declareReplicated(t, env, a, id)
	must(t, in.Note("real"))
	mustSync(t, a, id)
	// Someone overwrites event 2 in a bucket without Object Lock.
	key := fmt.Sprintf("site-state/incidents/%s/events/%012d.json", id, 2)
	obj, err := env.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &env.bucket, Key: &key})
	must(t, err)
	b, _ := io.ReadAll(obj.Body)
	obj.Body.Close()
	forged := strings.Replace(string(b), "real", "fake", 1)
	_, err = env.client.PutObject(ctx, &s3.PutObjectInput{Bucket: &env.bucket, Key: &key, Body: strings.NewReader(forged)})
	must(t, err)

	c := newSite(t, env, "", incident.ReplicatorOptions{})
	if _, err := c.rep.Fetch(ctx, id); !errors.Is(err, incident.ErrReplicaMismatch) {
		t.Fatalf("fetch of a tampered timeline = %v, want ErrReplicaMismatch", err)
	}
	if list, _ := c.store.Incidents(ctx); len(list) != 0 {
		t.Fatalf("a refused fetch left %d incidents", len(list))
	}
	v, err := a.rep.Verify(ctx, id)
	must(t, err)
	if v.OK || v.BadSeq != 2 {
		t.Fatalf("verify = %+v, want event 2 bad", v)
	}
}
