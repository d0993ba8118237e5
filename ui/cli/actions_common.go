package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spf13/pflag"

	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/steps"
	"github.com/drbook/drbook/steps/redact"
	"github.com/drbook/drbook/steps/sandbox"
)

// actionOptions are the flags the kill switch, reconcile and failover share.
type actionOptions struct {
	root     string
	json     bool
	incident string
	stateDir string
}

func (o *actionOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.root, "root", ".", "the QuantAI system root (holds data/quantai.db, brokers/, .env; default system.root of the site configuration, else .)")
	fs.BoolVar(&o.json, "json", false, "print JSON for scripts")
	fs.StringVar(&o.incident, "incident", "", "record the action, its output and result in this open incident's timeline")
	fs.StringVar(&o.stateDir, "state-dir", "", "state directory for --incident (default $DRBOOK_STATE_DIR, $XDG_STATE_HOME/drbook, ~/.local/state/drbook)")
}

// check refuses a root that is not a directory.
func (o *actionOptions) check(cmd string) error {
	st, err := os.Stat(o.root)
	if err != nil {
		return usageErr("%s: --root %s: %w", cmd, o.root, err)
	}
	if !st.IsDir() {
		return usageErr("%s: --root %s is not a directory", cmd, o.root)
	}
	return nil
}

// incidentLink is the open incident a command records its action into
// (--incident ID). Commands of other owners (backup, restore) can use it
// too: openIncidentLink before acting, so that a mistyped id is a usage
// error that changes nothing, then run the action through it.
type incidentLink struct {
	store *incident.Store
	in    *incident.Incident
	root  string
}

// openIncidentLink resolves ref (an id or a unique prefix) in the state
// directory and opens the incident for recording. A nil link and nil error
// mean ref is empty: nothing to record.
func openIncidentLink(ctx context.Context, iox *IO, cmd, ref, stateDir, root string) (*incidentLink, error) {
	if ref == "" {
		return nil, nil
	}
	if stateDir == "" {
		stateDir = incident.StateDir(iox.Getenv)
	}
	store, err := incident.OpenStore(stateDir)
	if err != nil {
		return nil, usageErr("%s: --incident %s: %w", cmd, ref, err)
	}
	id, err := store.Resolve(ctx, ref)
	if err == nil {
		var in *incident.Incident
		in, err = incident.Open(ctx, store, id, nil, nil, incident.OpenOptions{Operator: incident.OperatorFromEnv(iox.Getenv)})
		if err == nil && in.State().Status != incident.StatusOpen {
			err = fmt.Errorf("%s is %s: nothing more can be recorded in it", id, in.State().Status)
		}
		if err == nil && in.State().Declaration.Mode == incident.Drill && !sandbox.IsSandbox(root) {
			err = fmt.Errorf("%s is a drill, and --root %s is not a drbook sandbox: a drill's record never mixes with a real system", id, root)
		}
		if err == nil {
			return &incidentLink{store: store, in: in, root: root}, nil
		}
	}
	store.Close()
	return nil, usageErr("%s: --incident %s: %w", cmd, ref, err)
}

// run runs a registered action for a command, the one way every action
// command does: through the incident's recorder when the command is linked
// to one (the same recording as a step's action), else directly, with the
// root's .env secrets and the backup passphrase kept out of what it
// prints. runErr is the action's own error (it could not be carried out;
// redacted); err says the run was refused before it started, or could not
// be recorded, and is an ExitFailure naming the incident.
func (l *incidentLink) run(ctx context.Context, iox *IO, cmd string, act steps.Action, req steps.Request, emit steps.Emit) (res steps.Result, runErr, err error) {
	if req.Env.Operator == "" {
		req.Env.Operator = incident.OperatorFromEnv(iox.Getenv).String()
	}
	if req.Env.Now == nil {
		req.Env.Now = iox.Now
	}
	if l != nil {
		run, err := l.in.RunAction(ctx, act, req, emit)
		if err != nil {
			err = failed(fmt.Errorf("%s: incident %s: %w", cmd, l.in.ID(), err))
		}
		return run.Result, run.Err, err
	}
	secrets := append(incident.EnvSecrets(req.Env.Root), incident.PassphraseSecrets(req.Env.Vars, iox.Getenv)...)
	red := redact.New(append(secrets, req.Env.Secrets...)...)
	if emit == nil {
		emit = func(steps.Event) {}
	}
	res, runErr = act.Run(ctx, req, func(ev steps.Event) {
		ev.Line = red.String(ev.Line)
		emit(ev)
	})
	res.Summary = red.String(res.Summary)
	if runErr != nil && res.Status == "" {
		res.Status = steps.StatusFailed
	}
	return res, red.Error(runErr), nil
}

// mustAction returns the registered action called name: the action
// commands run the very action a runbook step runs.
func mustAction(name string) steps.Action {
	act, ok := steps.Lookup(name)
	if !ok {
		panic("cli: action " + name + " is not declared")
	}
	return act
}

func (l *incidentLink) close() {
	if l != nil {
		l.store.Close()
	}
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
