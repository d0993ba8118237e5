// Package all is the one list of drbook's actions. Register adds every
// action to a registry and hands each what it needs of the others (the
// restore re-applies the kill switch through an interface it owns), so no
// action package imports another and nothing registers itself at start-up.
// The composition root (ui/cli) calls it; so do tests that run actions
// through the incident engine.
package all

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/drbook/drbook/checks/checkaction"
	"github.com/drbook/drbook/steps"
	"github.com/drbook/drbook/steps/backup"
	"github.com/drbook/drbook/steps/compliance"
	"github.com/drbook/drbook/steps/dns"
	"github.com/drbook/drbook/steps/failover"
	"github.com/drbook/drbook/steps/killswitch"
	"github.com/drbook/drbook/steps/notifystep"
	"github.com/drbook/drbook/steps/reconcile"
	"github.com/drbook/drbook/steps/shell"
	"github.com/drbook/drbook/steps/standby"
)

// Options are what the program gives its actions.
type Options struct {
	// Checker runs integrity checks in a child process; the zero value
	// checks in process (see backup.Checker).
	Checker backup.Checker
	// Tool names the program in a backup's manifest ("drbook v1.2").
	Tool string
}

// Register adds every action to r.
func Register(r *steps.Registry, o Options) {
	killswitch.Register(r)
	backup.Register(r, backup.Deps{Checker: o.Checker, KillSwitch: KillSwitch{}, Tool: o.Tool})
	checkaction.Register(r)
	reconcile.Register(r)
	failover.Register(r)
	shell.Register(r)
	notifystep.Register(r)
	dns.Register(r)
	standby.Register(r)
	compliance.Register(r)
}

var once sync.Once

// Install registers every action in steps.Default, once per process: the
// first caller's options stand.
func Install(o Options) { once.Do(func() { Register(steps.Default, o) }) }

// KillSwitch re-applies the kill switch to a restored database with
// package killswitch, for package backup.
type KillSwitch struct{}

var _ backup.KillSwitch = KillSwitch{}

// Reapply engages the kill switch on env's root and returns the line that
// says so.
func (KillSwitch) Reapply(ctx context.Context, env steps.Env, reason string) (string, error) {
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
