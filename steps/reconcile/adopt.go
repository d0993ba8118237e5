package reconcile

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/drbook/drbook/steps"
)

// Adoption is one position the database took from the broker.
type Adoption struct {
	Broker string  `json:"broker"`
	Symbol string  `json:"symbol"`
	From   float64 `json:"from"`
	To     float64 `json:"to"`
}

// AdoptResult is what Adopt did and what it left for a person.
type AdoptResult struct {
	Adopted []Adoption `json:"adopted"`
	// Left are the breaks Adopt would not settle: the broker and the
	// filled trades disagree, no statement covers the broker, or the
	// position is missing from the database.
	Left   []Break `json:"left"`
	DryRun bool    `json:"dry_run,omitempty"`
	Report Report  `json:"report"`
}

// AdoptOptions are the reconcile options plus who adopts and when.
type AdoptOptions struct {
	Options
	Actor  string // written to the audit trail
	DryRun bool   // say what would change, change nothing
}

// Adopt settles the breaks where two independent sources agree against
// the database: the broker's statement and the sum of the filled trades
// say the same quantity and the database says another. It sets each such
// position to that quantity and appends one audit_trail row per change, in
// one transaction. Every other break is left for a person and listed: the
// plan's reconciliation is reviewed, never guessed.
func Adopt(ctx context.Context, o AdoptOptions) (AdoptResult, error) {
	rep, err := Run(ctx, o.Options)
	if err != nil {
		return AdoptResult{}, err
	}
	res := AdoptResult{Report: rep, DryRun: o.DryRun, Adopted: []Adoption{}, Left: []Break{}}
	for _, b := range rep.Breaks {
		if b.InDB && b.BrokerQty != nil && math.Abs(*b.BrokerQty-b.ImpliedQty) <= rep.Tolerance {
			res.Adopted = append(res.Adopted, Adoption{Broker: b.Broker, Symbol: b.Symbol, From: b.DBQty, To: *b.BrokerQty})
			continue
		}
		res.Left = append(res.Left, b)
	}
	if o.DryRun || len(res.Adopted) == 0 {
		return res, nil
	}
	now := time.Now()
	if o.Now != nil {
		now = o.Now()
	}
	db, err := steps.OpenDB(steps.Env{Root: o.Root}.DBPath(), steps.ReadWrite)
	if err != nil {
		return res, fmt.Errorf("adopt positions: %w", err)
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return res, fmt.Errorf("adopt positions: %w", err)
	}
	defer tx.Rollback()
	audit, err := steps.NewAudit(ctx, tx, now)
	if err != nil {
		return res, fmt.Errorf("adopt positions: %w", err)
	}
	actor := o.Actor
	if actor == "" {
		actor = "drbook"
	}
	for _, a := range res.Adopted {
		r, err := tx.ExecContext(ctx, `UPDATE positions SET quantity = ?, updated_at = ? WHERE broker = ? AND symbol = ? AND quantity = ?`,
			a.To, now.UTC().Format(steps.DBTimeLayout), a.Broker, a.Symbol, a.From)
		if err != nil {
			return res, fmt.Errorf("adopt positions: %s %s: %w", a.Broker, a.Symbol, err)
		}
		if n, _ := r.RowsAffected(); n != 1 {
			return res, fmt.Errorf("adopt positions: %s %s changed while it was reconciled: run it again", a.Broker, a.Symbol)
		}
		detail := fmt.Sprintf("%s %s: %s -> %s (broker statement and filled trades agree; reconciliation)", a.Broker, a.Symbol, qty(a.From), qty(a.To))
		if err := audit.Append(ctx, tx, actor, "position.adopted", detail); err != nil {
			return res, fmt.Errorf("adopt positions: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return res, fmt.Errorf("adopt positions: %w", err)
	}
	return res, nil
}

// AdoptLines renders an AdoptResult for a terminal and the timeline.
func AdoptLines(r AdoptResult) []string {
	verb := "adopted"
	if r.DryRun {
		verb = "would adopt"
	}
	var out []string
	for _, a := range r.Adopted {
		out = append(out, fmt.Sprintf("%s %s %s: database %s -> %s (broker and trades agree)", verb, a.Broker, a.Symbol, qty(a.From), qty(a.To)))
	}
	for _, b := range r.Left {
		bq := "no statement"
		if b.BrokerQty != nil {
			bq = "broker " + qty(*b.BrokerQty)
		}
		out = append(out, fmt.Sprintf("left for review: %s %s: database %s, %s, trades %s (%s)", b.Broker, b.Symbol, qty(b.DBQty), bq, qty(b.ImpliedQty), b.Reason))
	}
	if len(out) == 0 {
		out = append(out, "no breaks: nothing to adopt")
	}
	return out
}

// AdoptSummary is the result's line for the timeline.
func AdoptSummary(r AdoptResult) string {
	verb := "adopted"
	if r.DryRun {
		verb = "would adopt"
	}
	s := fmt.Sprintf("%s %d position(s) from the broker", verb, len(r.Adopted))
	if len(r.Left) > 0 {
		s += fmt.Sprintf("; %d break(s) left for review", len(r.Left))
	}
	return s
}
