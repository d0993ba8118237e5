package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/ui"
	"golang.org/x/term"
)

const resumeUsage = `
Usage: drbook resume [ID] [--follow] [flags]

Reopens an open incident in the TUI with the same clocks; ID may be a
unique prefix, and defaults to the most recently active open incident.
An action that was running when drbook died is shown as interrupted.

--follow shows the incident live and read-only (it polls the timeline),
for a second operator or a manager; it also works on a closed incident.

With --state-s3 s3://bucket/prefix (or $DRBOOK_STATE_S3) the timeline is
replicated while the TUI runs, and an incident this host does not hold
(its site is lost) is first rebuilt from S3, its hash chain verified.

Exit codes: 0 ok, 1 failure, 2 usage error or no such incident, 130 interrupted.
`

func runResume(ctx context.Context, iox *IO, args []string) error {
	var o tuiOptions
	var follow bool
	var s3 string
	fs := newFlagSet("resume", resumeUsage, iox)
	o.AddFlags(fs)
	fs.BoolVar(&follow, "follow", false, "read-only live view (polls the timeline)")
	fs.StringVar(&s3, "state-s3", "", "replicate timelines to s3://bucket/prefix (default $DRBOOK_STATE_S3)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return usageErr("resume: one incident id at most")
	}
	if err := needTerminal(iox, "resume"); err != nil {
		return err
	}
	ui.LimitMemory(iox.Getenv)
	cfg, err := o.open(iox)
	if err != nil {
		return err
	}
	defer cfg.Store.Close()
	ref := fs.Arg(0)
	rep, stop, err := replicateWhileRunning(ctx, iox, s3, cfg.Store, ref)
	if err != nil {
		return err
	}
	defer stop()
	var sess ui.Session
	if follow {
		sess, err = ui.NewFollowSession(ctx, cfg, ref)
	} else {
		sess, err = ui.OpenSession(ctx, cfg, ref)
	}
	if err != nil {
		if errors.Is(err, incident.ErrClosed) { // a closed incident cannot be resumed: the wrong one was named
			return usageErr("resume: %w", err)
		}
		return fmt.Errorf("resume: %w", err) // ExitCode: a wrong id 2, else 1
	}
	if !follow {
		if err := askSecrets(iox, sess); err != nil {
			return err
		}
	}
	if rep != nil {
		sess = ui.WithReplication(sess, rep.Status)
	}
	opts := o.uiOptions(iox)
	opts.Backend = ui.NewBackend(cfg)
	if rep != nil {
		opts.Backend = ui.ReplicatedBackend(opts.Backend, rep.Status)
	}
	opts.Session = sess
	opts.Follow = follow
	res, err := ui.Run(ctx, opts, iox.Stdin, iox.Stdout)
	return tuiExit(iox, cfg, res, err)
}

// askSecrets asks, without echo, for the runbook's secret variables: the
// timeline never keeps them, so a resumed incident needs them again. An
// empty answer leaves a variable unset (a step that needs it will say so).
func askSecrets(iox *IO, sess ui.Session) error {
	rb := sess.Runbook()
	setter, ok := sess.(interface{ SetVars(map[string]string) })
	f, isFile := iox.Stdin.(*os.File)
	if rb == nil || !ok || !isFile {
		return nil
	}
	vars := map[string]string{}
	for _, v := range rb.Vars {
		if !v.Secret {
			continue
		}
		prompt := v.Prompt
		if prompt == "" {
			prompt = v.Name
		}
		fmt.Fprintf(iox.Stderr, "%s (%s, secret, not echoed; enter to leave unset): ", prompt, v.Name)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(iox.Stderr)
		if err != nil {
			return failed(fmt.Errorf("read %s: %w", v.Name, err))
		}
		if s := strings.TrimSpace(string(b)); s != "" {
			vars[v.Name] = s
		}
	}
	setter.SetVars(vars)
	return nil
}
