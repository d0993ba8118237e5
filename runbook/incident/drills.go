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
	Runbook   string        `json:"runbook,omitempty"` // the embedded runbook that exercises it, if any
}

// Tests is the plan's recovery testing schedule.
var Tests = []Test{}

// DrillStatus is a scheduled test's record.
type DrillStatus struct {
	Test
	LastRun      time.Time     `json:"last_run,omitzero"`
	LastIncident string        `json:"last_incident,omitempty"`
	LastStatus   Status        `json:"last_status,omitempty"`
	Recovery     time.Duration `json:"-"` // measured recovery time (RTO clock) of the last run
	RTO          time.Duration `json:"-"`
	RTOVerdict   Verdict       `json:"rto_verdict,omitempty"`
	Due          time.Time     `json:"due,omitzero"` // LastRun + Every; zero when never run
	Overdue      bool          `json:"overdue"`
}

// Drills reports each scheduled test's last drill and whether it is
// overdue at now (wall time).
func (s *Store) Drills(ctx context.Context, now time.Time) ([]DrillStatus, error) {
	return nil, errTODO
}

// TestFor guesses the scheduled test a drill of runbookID counts as; "" if none.
func TestFor(runbookID string) string { return "" }
