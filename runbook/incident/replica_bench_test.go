package incident_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/steps/mototest"
)

// BenchmarkReplicationLag measures how long an event recorded on site A
// takes to be in site B's state database, both replicating to a real S3
// API (moto) on loopback with the default options (push on append, poll
// every 500ms). Each iteration records 20 events one after another;
// p50_ms and p99_ms are over all of them. Targets: p50 < 1s, p99 < 3s.
// Run it small: go test -run '^$' -bench ReplicationLag -benchtime 1x.
func BenchmarkReplicationLag(b *testing.B) {
	srv := mototest.Start(b)
	env := newS3Env(b, srv)
	a := newSite(b, env, "", incident.ReplicatorOptions{})
	s := newSite(b, env, "", incident.ReplicatorOptions{})
	const id = "INC-LAG"
	in := declareReplicated(b, env, a, id)
	if _, err := s.rep.Fetch(ctx, id); err != nil {
		b.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, st := range []*site{a, s} {
		wg.Add(1)
		go func() { defer wg.Done(); st.rep.Run(runCtx) }()
	}
	defer func() { stop(); wg.Wait() }()
	var lags []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := 0; j < 20; j++ {
			if err := in.Note(fmt.Sprintf("lag %d-%d", i, j)); err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			seq := in.State().LastSeq
			for {
				evs, err := s.store.EventsAfter(ctx, id, seq-1)
				if err != nil {
					b.Fatal(err)
				}
				if len(evs) > 0 {
					break
				}
				time.Sleep(2 * time.Millisecond) // measuring, not synchronising
			}
			lags = append(lags, time.Since(start))
		}
	}
	b.StopTimer()
	sort.Slice(lags, func(i, j int) bool { return lags[i] < lags[j] })
	pct := func(p float64) float64 {
		return float64(lags[int(p*float64(len(lags)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50_ms")
	b.ReportMetric(pct(0.99), "p99_ms")
}
