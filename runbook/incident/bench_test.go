package incident_test

import (
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/drbook/drbook/runbook/incident"
)

// BenchmarkAppend measures one durable append (a note): a write
// transaction committed with synchronous=FULL.
func BenchmarkAppend(b *testing.B) {
	s := MustStore(b)
	clock := incident.NewManualClock(t0)
	in := MustDeclare(b, s, clock, incident.DeclareOptions{})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		clock.Advance(time.Second)
		if err := in.Note("benchmark note"); err != nil {
			b.Fatal(err)
		}
	}
}

// bigIncident records an incident of about n events: notes, and steps
// started and failed over and over.
func bigIncident(b *testing.B, n int) (*incident.Store, string) {
	b.Helper()
	s := MustStore(b)
	clock := incident.NewManualClock(t0)
	in := MustDeclare(b, s, clock, incident.DeclareOptions{})
	stepIDs := []string{"assessment/scope", "assessment/estimate", "recovery/restore", "validation/check"}
	for i := 0; in.State().LastSeq < int64(n); i++ {
		clock.Advance(time.Second)
		var err error
		switch i % 4 {
		case 0, 1:
			err = in.Note(fmt.Sprintf("note %d: checked the replica lag and the gateway logs again", i))
		case 2:
			err = in.StartStep(stepIDs[(i/4)%len(stepIDs)])
		case 3:
			err = in.FailStep(stepIDs[(i/4)%len(stepIDs)], fmt.Sprintf("attempt %d failed: connection refused", i))
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	return s, in.ID()
}

// BenchmarkRebuild10k reads and replays an incident of 10,000 events.
func BenchmarkRebuild10k(b *testing.B) {
	s, id := bigIncident(b, 10000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		st, err := s.Load(ctx, id)
		if err != nil || st.Events < 10000 {
			b.Fatal(err, st.Events)
		}
	}
}

// BenchmarkReport10k writes the Markdown report of that incident, from
// the database: read, replay, build and render.
func BenchmarkReport10k(b *testing.B) {
	s, id := bigIncident(b, 10000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		evs, err := s.Events(ctx, id)
		if err != nil {
			b.Fatal(err)
		}
		st, err := incident.Rebuild(evs)
		if err != nil {
			b.Fatal(err)
		}
		if err := incident.BuildReport(st, evs, st.LastEvent).Markdown(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify10k checks the hash chain of 10,000 events.
func BenchmarkVerify10k(b *testing.B) {
	s, id := bigIncident(b, 10000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if res, err := s.Verify(ctx, id); err != nil || !res.OK {
			b.Fatal(err, res)
		}
	}
}
