package reconcile_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drbook/drbook/checks"
	"github.com/drbook/drbook/steps/reconcile"
)

func auditRows(t *testing.T, root, action string) []string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(root, "data", "quantai.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT detail FROM audit_trail WHERE action = ? ORDER BY id`, action)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var d string
		rows.Scan(&d)
		out = append(out, d)
	}
	return out
}

// A drifted position that the broker and the trades both contradict is
// adopted with an audit row; the data validation then passes, and the
// trail stays monotonic and gap-free.
func TestAdoptSettlesWhatTwoSourcesAgreeOn(t *testing.T) {
	root := MustSandbox(t, "position-drift")
	ctx := context.Background()
	o := reconcile.AdoptOptions{Options: reconcile.Options{Root: root, Tolerance: reconcile.DefaultTolerance}, Actor: "drbook:erin"}

	dry := o
	dry.DryRun = true
	res, err := reconcile.Adopt(ctx, dry)
	if err != nil || len(res.Adopted) != 1 || len(res.Left) != 0 {
		t.Fatalf("dry run: %+v, %v", res, err)
	}
	if rows := auditRows(t, root, "position.adopted"); len(rows) != 0 {
		t.Fatalf("a dry run wrote the audit trail: %q", rows)
	}

	res, err = reconcile.Adopt(ctx, o)
	if err != nil || len(res.Adopted) != 1 {
		t.Fatalf("adopt: %+v, %v", res, err)
	}
	a := res.Adopted[0]
	rows := auditRows(t, root, "position.adopted")
	if len(rows) != 1 || !strings.Contains(rows[0], a.Broker+" "+a.Symbol) {
		t.Fatalf("audit rows: %q", rows)
	}
	if rep := run(t, reconcile.Options{Root: root}); !rep.OK() {
		t.Fatalf("breaks after adopting: %+v", rep.Breaks)
	}
	rep, err := checks.Run(ctx, checks.Options{Root: root, Only: []string{"data-validation"}}, nil)
	if err != nil || rep.Failed() {
		t.Fatalf("data validation after adopting: %+v %v", rep.Findings, err)
	}
	// Nothing left: a second run changes nothing.
	if res, err := reconcile.Adopt(ctx, o); err != nil || len(res.Adopted) != 0 {
		t.Fatalf("second adopt: %+v, %v", res, err)
	}
}

// When the broker's statement disagrees with the filled trades too, the
// database keeps its number: a person settles it.
func TestAdoptLeavesDisagreementsForReview(t *testing.T) {
	root := MustSandbox(t, "position-drift")
	ctx := context.Background()
	res, err := reconcile.Adopt(ctx, reconcile.AdoptOptions{Options: reconcile.Options{Root: root, Tolerance: reconcile.DefaultTolerance}, DryRun: true})
	if err != nil || len(res.Adopted) != 1 {
		t.Fatalf("%+v %v", res, err)
	}
	sym := res.Adopted[0].Symbol
	// The statement now says a third number for that symbol.
	p := filepath.Join(root, "brokers", "ibkr_positions.csv")
	b, _ := os.ReadFile(p)
	lines := strings.Split(string(b), "\n")
	head := strings.Split(lines[0], ",")
	qcol, scol := -1, -1
	for i, h := range head {
		switch h {
		case "Quantity":
			qcol = i
		case "Symbol":
			scol = i
		}
	}
	if qcol < 0 || scol < 0 {
		t.Fatalf("statement header %q", lines[0])
	}
	for i, l := range lines[1:] {
		if f := strings.Split(l, ","); len(f) > qcol && f[scol] == sym {
			f[qcol] = "1"
			lines[i+1] = strings.Join(f, ",")
		}
	}
	os.WriteFile(p, []byte(strings.Join(lines, "\n")), 0o644)
	res, err = reconcile.Adopt(ctx, reconcile.AdoptOptions{Options: reconcile.Options{Root: root, Tolerance: reconcile.DefaultTolerance}})
	if err != nil || len(res.Adopted) != 0 || len(res.Left) == 0 {
		t.Fatalf("adopt with a disagreeing broker: %+v, %v", res, err)
	}
	if rows := auditRows(t, root, "position.adopted"); len(rows) != 0 {
		t.Fatalf("audit rows written for a disagreement: %q", rows)
	}
}
