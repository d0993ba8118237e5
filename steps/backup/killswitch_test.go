package backup_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drbook/drbook/steps"
	"github.com/drbook/drbook/steps/all"
	"github.com/drbook/drbook/steps/backup"
	"github.com/drbook/drbook/steps/killswitch"
	"github.com/drbook/drbook/steps/sandbox"
)

// TestRestoreKeepsTradingHalted: the backup predates the halt, so its
// database says trading is on. A restore while data/KILL_SWITCH exists
// re-applies the halt to the restored database (and says so), keeping
// the flag's who, when and why.
func TestRestoreKeepsTradingHalted(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	root := filepath.Join(dir, "sandbox")
	if err := sandbox.Create(ctx, root, sandbox.Options{Trades: 500, Seed: 5}); err != nil {
		t.Fatal(err)
	}
	if err := sandbox.Inject(root, "pending-orders"); err != nil { // orders in flight in the backup
		t.Fatal(err)
	}
	env := steps.Env{Root: root, Drill: true, BackupDir: filepath.Join(dir, "backups"), Operator: "alice", IncidentID: "DRILL-1"}
	bk, _ := steps.Lookup("backup")
	if _, err := bk.Run(ctx, steps.Request{Env: env, Params: map[string]string{}}, func(steps.Event) {}); err != nil {
		t.Fatal(err)
	}
	if _, err := killswitch.Engage(ctx, killswitch.Options{Root: root, Operator: "bob", Reason: "outage"}); err != nil {
		t.Fatal(err)
	}
	rs, _ := steps.Lookup("restore")
	res, err := rs.Run(ctx, steps.Request{Env: env, Params: map[string]string{"only": "db"}, Confirmed: true}, func(steps.Event) {})
	if err != nil || res.Status != steps.StatusOK {
		t.Fatalf("restore: %v %+v", err, res)
	}
	st, err := killswitch.Status(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Engaged || !st.DB.Halted || st.DB.OpenOrders != 0 || len(st.Problems) > 0 {
		t.Errorf("after restore: %+v", st)
	}
	if st.Flag == nil || st.Flag.Who != "bob" || st.Flag.Why != "outage" {
		t.Errorf("flag rewritten: %+v", st.Flag)
	}
	if !strings.Contains(fmt.Sprint(res.Data), "kill switch re-applied") {
		t.Errorf("the restore does not say it re-applied the kill switch: %+v", res.Data)
	}
}

// TestRestoreWithoutTheReapplyHookFailsLoudly: a restore given no way to
// re-apply the kill switch says so instead of leaving it half lifted.
func TestRestoreWithoutTheReapplyHookFailsLoudly(t *testing.T) {
	ctx := context.Background()
	root := MustRoot(t, "b", 5)
	out := MustBackup(t, root, t.TempDir(), 1, time.Now())
	MustWrite(t, filepath.Join(root, "data", "KILL_SWITCH"), `{"engaged":true}`)
	o := restoreOpts(root, out.ArchivePath)
	o.KillSwitch = nil
	res, err := backup.Restore(ctx, o)
	if err == nil || !strings.Contains(err.Error(), "kill switch") || res == nil {
		t.Fatalf("restore with a halt and no hook: %v", err)
	}
}

// The restore re-applies the kill switch through all.KillSwitch, the
// adapter the composition root hands it.
var _ backup.KillSwitch = all.KillSwitch{}
