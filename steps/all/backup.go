package all

import (
	"context"
	"fmt"
	"strings"

	"github.com/drbook/drbook/steps"
	"github.com/drbook/drbook/steps/backup" // backup, restore, restore-config
	"github.com/drbook/drbook/steps/killswitch"
)

// A restore re-applies an engaged kill switch to the restored database;
// package killswitch depends on package backup, so the two meet here.
func init() {
	backup.ReapplyKillSwitch = func(ctx context.Context, env steps.Env, reason string) (string, error) {
		st, err := killswitch.Engage(ctx, killswitch.Options{Root: env.Root, Operator: env.Operator, Reason: reason,
			IncidentID: env.IncidentID, Now: env.Now})
		if err != nil {
			return "", err
		}
		if len(st.Problems) > 0 {
			return "", fmt.Errorf("%s", strings.Join(st.Problems, "; "))
		}
		return killswitch.EngageLine(st), nil
	}
}
