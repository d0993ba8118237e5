package steps

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// DBTimeLayout is the fixed-width time format of the QuantAI database's
// time columns: RFC 3339 in UTC with nine fraction digits, so that string
// order is time order.
const DBTimeLayout = "2006-01-02T15:04:05.000000000Z"

// Audit appends rows to the QuantAI database's audit_trail inside a
// transaction: the next id after the last, and a timestamp after the last
// one even if the clock says otherwise, so the trail stays monotonic and
// gap-free (the plan's data validation checks both). It never rewrites a
// row. Every action that changes trading data writes through it.
type Audit struct {
	next int64
	last time.Time
	now  time.Time
}

// NewAudit reads where the trail ends; now stamps the rows it appends.
func NewAudit(ctx context.Context, tx *sql.Tx, now time.Time) (*Audit, error) {
	var maxID sql.NullInt64
	var lastTS sql.NullString
	if err := tx.QueryRowContext(ctx, `SELECT MAX(id), (SELECT timestamp FROM audit_trail ORDER BY id DESC LIMIT 1) FROM audit_trail`).Scan(&maxID, &lastTS); err != nil {
		return nil, fmt.Errorf("read audit trail: %w", err)
	}
	a := &Audit{next: maxID.Int64 + 1, now: now}
	if lastTS.Valid {
		t, err := time.Parse(time.RFC3339Nano, lastTS.String)
		if err != nil {
			return nil, fmt.Errorf("audit trail: last timestamp %q: %w", lastTS.String, err)
		}
		a.last = t
	}
	return a, nil
}

// Append writes one audit_trail row.
func (a *Audit) Append(ctx context.Context, tx *sql.Tx, actor, action, detail string) error {
	ts := a.now
	if !ts.After(a.last) {
		ts = a.last.Add(time.Nanosecond)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO audit_trail (id, timestamp, actor, action, detail) VALUES (?, ?, ?, ?, ?)`,
		a.next, ts.UTC().Format(DBTimeLayout), actor, action, detail); err != nil {
		return fmt.Errorf("append audit trail: %w", err)
	}
	a.next++
	a.last = ts
	return nil
}
