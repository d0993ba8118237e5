package incident

import (
	"context"
	"time"
)

// Test is a recovery test on the plan's schedule (section 4.1).
type Test struct {
	ID        string        `json:"id"`
	Name      string        `json:"name"`
	Frequency string        `json:"frequency"` // monthly, quarterly, annual
	Every     time.Duration `json:"-"`
	// Runbooks are the embedded runbooks whose drills count as this test
	// unless the drill names another; the first is the one to run.
	Runbooks []string `json:"runbooks,omitempty"`
}

const (
	month   = 30 * 24 * time.Hour
	quarter = 91 * 24 * time.Hour
	year    = 365 * 24 * time.Hour
)

// Tests is the plan's recovery testing schedule (section 4.1).
var Tests = []Test{
	{ID: "database-backup-restore", Name: "Database backup/restore test", Frequency: "monthly", Every: month,
		Runbooks: []string{"monthly-database-recovery-test", "database-recovery", "manual-backup"}},
	{ID: "configuration-recovery", Name: "Configuration recovery test", Frequency: "monthly", Every: month,
		Runbooks: []string{"configuration-recovery"}},
	{ID: "single-agent-failure", Name: "Single agent failure recovery", Frequency: "monthly", Every: month,
		Runbooks: []string{"single-agent-failure"}},
	{ID: "complete-system-recovery", Name: "Complete system recovery test", Frequency: "quarterly", Every: quarter,
		Runbooks: []string{"quarterly-system-recovery-test", "complete-system-recovery"}},
	{ID: "failover-procedure", Name: "Failover procedure test", Frequency: "quarterly", Every: quarter,
		Runbooks: []string{"trading-platform-failover", "site-failover-manual"}},
	{ID: "cross-platform-recovery", Name: "Cross-platform recovery test", Frequency: "quarterly", Every: quarter,
		Runbooks: []string{"cross-platform-recovery"}},
	{ID: "full-dr-simulation", Name: "Full disaster recovery simulation", Frequency: "annual", Every: year,
		Runbooks: []string{"full-dr-simulation"}},
	// site-failover (primary → secondary with the DNS switch) is written
	// alongside the standby site and health monitoring; until it is
	// embedded, a drill of this test must name its runbook.
	{ID: "multi-site-failover", Name: "Multi-site failover test", Frequency: "annual", Every: year,
		Runbooks: []string{"site-failover"}},
	{ID: "compliance-validation", Name: "Regulatory compliance validation", Frequency: "annual", Every: year,
		Runbooks: []string{"compliance-validation"}},
}

func lookupTest(id string) (Test, bool) {
	for _, t := range Tests {
		if t.ID == id {
			return t, true
		}
	}
	return Test{}, false
}

// TestFor guesses the scheduled test a drill of runbookID counts as; "" if none.
func TestFor(runbookID string) string {
	for _, t := range Tests {
		for _, r := range t.Runbooks {
			if r == runbookID {
				return t.ID
			}
		}
	}
	return ""
}

// DrillStatus is a scheduled test's record.
type DrillStatus struct {
	Test
	LastRun      time.Time     `json:"last_run,omitzero"` // when the last drill of it was declared
	LastIncident string        `json:"last_incident,omitempty"`
	LastStatus   Status        `json:"last_status,omitempty"`
	Recovery     time.Duration `json:"-"` // measured recovery time (until the RTO clock stopped)
	RecoverySecs float64       `json:"recovery_seconds,omitempty"`
	RTO          time.Duration `json:"-"`
	RTOSecs      float64       `json:"rto_seconds,omitempty"`
	RTOVerdict   Verdict       `json:"rto_verdict,omitempty"`
	Runs         int           `json:"runs"`
	Due          time.Time     `json:"due,omitzero"` // LastRun + Every; zero when never run
	Overdue      bool          `json:"overdue"`
}

// Drills reports each scheduled test's last drill and whether it is
// overdue at now (wall time). A test never run is overdue. Abandoned drills
// do not count as runs.
func (s *Store) Drills(ctx context.Context, now time.Time) ([]DrillStatus, error) {
	sums, err := s.Incidents(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]DrillStatus, len(Tests))
	for i, t := range Tests {
		ds := DrillStatus{Test: t}
		for _, sm := range sums {
			if sm.Mode != Drill || sm.DrillTest != t.ID || sm.Status == StatusAbandoned {
				continue
			}
			ds.Runs++
			if !sm.DeclaredAt.After(ds.LastRun) {
				continue
			}
			ds.LastRun, ds.LastIncident, ds.LastStatus = sm.DeclaredAt, sm.ID, sm.Status
		}
		if ds.LastIncident != "" {
			st, err := s.Load(ctx, ds.LastIncident)
			if err != nil {
				return nil, err
			}
			c := st.Clocks(st.LastEvent)
			ds.RTO, ds.RTOVerdict = c.RTO.Objective, c.RTO.Verdict
			if !c.RTO.Stopped.IsZero() {
				ds.Recovery = c.RTO.Took
			}
			ds.RecoverySecs, ds.RTOSecs = ds.Recovery.Seconds(), ds.RTO.Seconds()
			ds.Due = ds.LastRun.Add(t.Every)
		}
		ds.Overdue = ds.LastIncident == "" || now.After(ds.Due)
		out[i] = ds
	}
	return out, nil
}
