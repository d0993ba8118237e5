package incident_test

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/drbook/drbook/runbook/incident"
)

// rawDB opens the state database directly, as a tamperer would.
func rawDB(t *testing.T, s *incident.Store) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", s.Path()+"?_pragma=busy_timeout(5000)")
	must(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

// sixEvents declares an incident and records five more events.
func sixEvents(t *testing.T, s *incident.Store) string {
	t.Helper()
	clock := incident.NewManualClock(t0)
	in := MustDeclare(t, s, clock, incident.DeclareOptions{})
	for _, n := range []string{"one", "two", "three", "four", "five"} {
		clock.Advance(time.Minute)
		must(t, in.Note(n))
	}
	return in.ID()
}

func TestVerifyFindsTampering(t *testing.T) {
	tests := []struct {
		name    string
		sql     []string
		wantSeq int64
	}{
		{"intact", nil, 0},
		{"edited text", []string{`UPDATE events SET data = replace(data, 'three', 'THREE') WHERE seq = 4`}, 4},
		{"edited time", []string{`UPDATE events SET at = '2026-03-02T09:00:00Z' WHERE seq = 3`}, 3},
		{"edited kind", []string{`UPDATE events SET kind = 'step_done' WHERE seq = 5`}, 5},
		{"deleted middle", []string{`DELETE FROM events WHERE seq = 3`}, 4},
		{"deleted first", []string{`DELETE FROM events WHERE seq = 1`}, 2},
		{"deleted last", []string{`DELETE FROM events WHERE seq = 6`}, 6},
		{"deleted last two", []string{`DELETE FROM events WHERE seq >= 5`}, 5},
		{"reordered", []string{
			`UPDATE events SET seq = 100 WHERE seq = 3`,
			`UPDATE events SET seq = 3 WHERE seq = 4`,
			`UPDATE events SET seq = 4 WHERE seq = 100`,
		}, 3},
		{"reordered with hashes moved along", []string{
			// Swap contents of 3 and 4 but keep each row's seq, prev_hash and hash.
			`CREATE TEMP TABLE x AS SELECT * FROM events WHERE seq IN (3, 4)`,
			`UPDATE events SET data = (SELECT data FROM x WHERE x.seq = 7 - events.seq), at = (SELECT at FROM x WHERE x.seq = 7 - events.seq) WHERE seq IN (3, 4)`,
		}, 3},
		{"rehashed edit", []string{
			// Edit and recompute nothing but the stored hash of the edited row: the next row's link breaks.
			`UPDATE events SET data = replace(data, 'two', 'TWO'), hash = 'ffff' WHERE seq = 3`,
		}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := MustStore(t)
			id := sixEvents(t, s)
			db := rawDB(t, s)
			for _, q := range tt.sql {
				if _, err := db.Exec(q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			res, err := s.Verify(ctx, id)
			must(t, err)
			if res.OK != (tt.wantSeq == 0) || res.BadSeq != tt.wantSeq {
				t.Fatalf("verify: ok=%v bad=%d (%s), want bad=%d", res.OK, res.BadSeq, res.Problem, tt.wantSeq)
			}
			if !res.OK && res.Problem == "" {
				t.Error("no problem described")
			}
		})
	}
}

func TestVerifyUnknownIncident(t *testing.T) {
	s := MustStore(t)
	if _, err := s.Verify(ctx, "INC-NOPE"); !errors.Is(err, incident.ErrNotFound) {
		t.Errorf("verify unknown: %v", err)
	}
	if _, err := s.Load(ctx, "INC-NOPE"); !errors.Is(err, incident.ErrNotFound) {
		t.Errorf("load unknown: %v", err)
	}
	sixEvents(t, s)
	if _, err := s.Events(ctx, "INC-TEST"); !errors.Is(err, incident.ErrNotFound) {
		t.Errorf("events of a prefix (only Resolve takes prefixes): %v", err)
	}
	if _, err := incident.Open(ctx, s, "INC-NOPE", nil, nil, incident.OpenOptions{}); !errors.Is(err, incident.ErrNotFound) {
		t.Errorf("open unknown: %v", err)
	}
}

func TestOpenStoreRefusesBadFiles(t *testing.T) {
	t.Run("not a database", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, incident.DBName)
		junk := []byte("this is my shopping list, not a database\n")
		must(t, os.WriteFile(path, junk, 0o600))
		_, err := incident.OpenStore(dir)
		if !errors.Is(err, incident.ErrNotDatabase) {
			t.Fatalf("got %v, want ErrNotDatabase", err)
		}
		if got, _ := os.ReadFile(path); !bytes.Equal(got, junk) {
			t.Error("the file was changed")
		}
	})
	t.Run("newer schema", func(t *testing.T) {
		dir := t.TempDir()
		s, err := incident.OpenStore(dir)
		must(t, err)
		id := sixEvents(t, s)
		db := rawDB(t, s)
		if _, err := db.Exec(`PRAGMA user_version = 99`); err != nil {
			t.Fatal(err)
		}
		db.Close()
		s.Close()
		_, err = incident.OpenStore(dir)
		if !errors.Is(err, incident.ErrNewerSchema) {
			t.Fatalf("got %v, want ErrNewerSchema", err)
		}
		// Nothing was touched: with the version put back, the timeline verifies.
		db2, err := sql.Open("sqlite", filepath.Join(dir, incident.DBName))
		must(t, err)
		_, err = db2.Exec(fmt.Sprintf(`PRAGMA user_version = %d`, incident.SchemaVersion()))
		must(t, err)
		db2.Close()
		s, err = incident.OpenStore(dir)
		must(t, err)
		defer s.Close()
		if res, err := s.Verify(ctx, id); err != nil || !res.OK || res.Events != 6 {
			t.Errorf("after refusing: %+v %v", res, err)
		}
	})
	t.Run("locked", func(t *testing.T) {
		dir := t.TempDir()
		s, err := incident.OpenStoreWith(dir, incident.StoreOptions{BusyTimeout: 100 * time.Millisecond})
		must(t, err)
		defer s.Close()
		db := rawDB(t, s)
		conn, err := db.Conn(ctx)
		must(t, err)
		defer conn.Close()
		_, err = conn.ExecContext(ctx, `BEGIN EXCLUSIVE`)
		must(t, err)
		defer conn.ExecContext(ctx, `ROLLBACK`)
		_, err = incident.Declare(ctx, s, testRunbook(), incident.DeclareOptions{ID: "INC-LOCKED"}, incident.NewManualClock(t0))
		if !errors.Is(err, incident.ErrLocked) {
			t.Fatalf("got %v, want ErrLocked", err)
		}
	})
	t.Run("read-only", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root ignores file permissions; TestReadOnlyStateDatabase (kill_test.go) covers ErrReadOnly as root, with a child running as nobody")
		}
		dir := t.TempDir()
		s, err := incident.OpenStore(dir)
		must(t, err)
		sixEvents(t, s)
		s.Close()
		must(t, os.Chmod(filepath.Join(dir, incident.DBName), 0o444))
		must(t, os.Chmod(dir, 0o555))
		defer os.Chmod(dir, 0o755)
		s, err = incident.OpenStore(dir)
		if err == nil {
			_, err = incident.Declare(ctx, s, testRunbook(), incident.DeclareOptions{ID: "INC-RO"}, incident.NewManualClock(t0))
			s.Close()
		}
		if !errors.Is(err, incident.ErrReadOnly) {
			t.Fatalf("got %v, want ErrReadOnly", err)
		}
	})
	t.Run("must exist", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "nothing-here")
		if _, err := incident.OpenStoreWith(dir, incident.StoreOptions{MustExist: true}); !errors.Is(err, incident.ErrNotFound) {
			t.Errorf("got %v", err)
		}
		if _, err := os.Stat(dir); err == nil {
			t.Error("MustExist created the directory")
		}
	})
}

func TestTwoStoresShareOneDatabase(t *testing.T) {
	dir := t.TempDir()
	a, err := incident.OpenStore(dir)
	must(t, err)
	defer a.Close()
	b, err := incident.OpenStore(dir)
	must(t, err)
	defer b.Close()
	clock := incident.NewManualClock(t0)
	inA := MustDeclare(t, a, clock, incident.DeclareOptions{})
	inB, err := incident.Open(ctx, b, inA.ID(), nil, clock, incident.OpenOptions{Operator: incident.Operator{Name: "bob"}})
	must(t, err)
	must(t, inB.Note("from b"))
	must(t, inA.Note("from a")) // a catches up with b's note before appending
	st := inA.State()
	if len(st.Notes) != 2 || st.Notes[0].Text != "from b" || st.Notes[0].Actor != "bob" {
		t.Errorf("notes: %+v", st.Notes)
	}
	changed, err := inB.Refresh(ctx)
	must(t, err)
	if !changed || len(inB.State().Notes) != 2 {
		t.Errorf("refresh: changed=%v notes=%d", changed, len(inB.State().Notes))
	}
	if res, err := a.Verify(ctx, inA.ID()); err != nil || !res.OK {
		t.Errorf("verify: %+v %v", res, err)
	}
}

func TestIncidentsAndResolve(t *testing.T) {
	s := MustStore(t)
	clock := incident.NewManualClock(t0)
	a := MustDeclare(t, s, clock, incident.DeclareOptions{ID: "INC-A-1"})
	clock.Advance(time.Minute)
	b := MustDeclare(t, s, clock, incident.DeclareOptions{ID: "INC-B-1", Mode: incident.Drill})
	clock.Advance(time.Minute)
	must(t, a.Close(incident.StatusResolved, ""))
	_ = b
	list, err := s.Incidents(ctx)
	must(t, err)
	if len(list) != 2 || list[0].ID != "INC-B-1" || list[0].Status != incident.StatusOpen || list[1].Status != incident.StatusResolved ||
		list[0].DrillTest != "" || list[1].Events != 3 {
		t.Errorf("incidents: %+v", list)
	}
	for ref, want := range map[string]string{"": "INC-B-1", "INC-A": "INC-A-1", "INC-A-1": "INC-A-1"} {
		if got, err := s.Resolve(ctx, ref); err != nil || got != want {
			t.Errorf("resolve %q: %q %v, want %q", ref, got, err, want)
		}
	}
	if _, err := s.Resolve(ctx, "INC-"); !errors.Is(err, incident.ErrAmbiguous) {
		t.Errorf("ambiguous prefix: %v", err)
	}
	if _, err := s.Resolve(ctx, "NOPE"); !errors.Is(err, incident.ErrNotFound) {
		t.Errorf("unknown: %v", err)
	}
}

func TestMigrationFromVersion1(t *testing.T) {
	dir := t.TempDir()
	v1, err := os.ReadFile(filepath.Join("migrations", "0001_init.sql"))
	must(t, err)
	db, err := sql.Open("sqlite", filepath.Join(dir, incident.DBName))
	must(t, err)
	for _, q := range []string{string(v1), `PRAGMA user_version = 1`,
		`INSERT INTO incidents (id, runbook, title, mode, severity, declared_at, detected_at, last_at, head_seq)
		 VALUES ('DRILL-OLD', 'rb', 't', 'drill', 1, '2026-03-02T09:00:00Z', '2026-03-02T09:00:00Z', '2026-03-02T09:00:00Z', 1)`,
		`INSERT INTO events (incident_id, seq, at, kind, data, prev_hash, hash)
		 VALUES ('DRILL-OLD', 1, '2026-03-02T09:00:00Z', 'declared', '{"declared":{"speed":60}}', '', 'x')`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	s, err := incident.OpenStore(dir)
	must(t, err)
	defer s.Close()
	list, err := s.Incidents(ctx)
	must(t, err)
	if len(list) != 1 || list[0].Speed != 60 {
		t.Fatalf("after migration: %+v", list)
	}
	// The migrated speed counts: an open sped-up drill's clock stands still
	// while nobody attends it, so it is listed as of its last event.
	if got := list[0].Elapsed(t0.Add(2 * time.Minute)); got != 0 {
		t.Errorf("elapsed at 60x 2 real minutes after its only event: %s, want 0s", got)
	}
}

func TestFollowerAppliesNewEvents(t *testing.T) {
	s := MustStore(t)
	clock := incident.NewManualClock(t0)
	in := MustDeclare(t, s, clock, incident.DeclareOptions{})
	st, err := s.Load(ctx, in.ID())
	must(t, err)
	must(t, in.StartStep("immediate/halt"))
	must(t, in.Note("for the follower"))
	evs, err := s.EventsAfter(ctx, in.ID(), st.LastSeq)
	must(t, err)
	st.Apply(evs...)
	st.Apply(evs...) // applying twice changes nothing
	full, err := s.Load(ctx, in.ID())
	must(t, err)
	if st.LastSeq != full.LastSeq || st.Events != full.Events || len(st.Notes) != 1 || st.Step("immediate/halt").Status != incident.StepRunning {
		t.Errorf("follower: seq %d events %d notes %d; full: seq %d events %d", st.LastSeq, st.Events, len(st.Notes), full.LastSeq, full.Events)
	}
}

func TestMostRecentIgnoresDrillSpeed(t *testing.T) {
	s := MustStore(t)
	clock := incident.NewManualClock(t0)
	live := MustDeclare(t, s, clock, incident.DeclareOptions{ID: "INC-LIVE"})
	fast := MustDeclare(t, s, clock, incident.DeclareOptions{ID: "DRILL-FAST", Mode: incident.Drill, Speed: 3600})
	clock.Advance(time.Minute)
	must(t, fast.Note("sixty drill hours in"))
	time.Sleep(2 * time.Millisecond) // wall-clock order of the writes
	must(t, live.Note("still on it"))
	if id, err := s.Resolve(ctx, ""); err != nil || id != "INC-LIVE" {
		t.Errorf("most recently written open incident: %q %v, want INC-LIVE", id, err)
	}
}

func TestStateDatabaseIsPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	s, err := incident.OpenStore(dir)
	must(t, err)
	sixEvents(t, s)
	s.Close()
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range append(files, dir) {
		fi, err := os.Stat(f)
		must(t, err)
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s is %v, want private to its owner", f, fi.Mode().Perm())
		}
	}
}
