package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/runbook/sitefailover"
	"github.com/drbook/drbook/steps"
	"github.com/drbook/drbook/steps/backup"
	"github.com/drbook/drbook/steps/health"
	"github.com/drbook/drbook/steps/sandbox"
)

const watchUsage = `
Usage: drbook watch [--root PRIMARY] [--interval 30s] [--failures 3]
                    [--once | --rounds N] [--drill] [--runbooks DIR]
                    [--state-dir DIR] [--json]

Watch the primary site (plan 2.3, "health monitoring detects failure").
Every interval drbook probes what failover.health of the site configuration
names: the age of the trading loop's heartbeat file logs/heartbeat
(heartbeat_max_age), the database's db-integrity check (quick_check, read
only, nothing created beside it) and an HTTP health URL (http). Each round
is one line on stdout. After --failures rounds in a row fail, drbook
declares a Sev-1 incident:

  failover.automatic: true   runs the site-failover runbook unattended:
                             kill switch on the primary, promote the
                             secondary, switch DNS, the load balancer hook,
                             verify; every step is timed on the timeline
  otherwise                  declares it with site-failover-manual and
                             stops: people walk it ('drbook resume ID')

and exits. It refuses to start while a site failover incident (of its
kind: live, or a drill with --drill) is open.
--drill declares a drill (the primary must be a drbook sandbox); its DNS
switch goes only to failover.dns.endpoint or AWS_ENDPOINT_URL, and with
neither it is recorded as simulated. --once probes one round and exits.
Run it under systemd: docs/failover.md has the unit.

Exit codes: 0 healthy (--once, or --rounds ran out); 1 the primary failed
(--once) or an incident was declared; 2 usage error or a bad site
configuration; 130 interrupted.
`

func runWatch(ctx context.Context, iox *IO, args []string) error {
	var (
		so                  stateOptions
		rbDirs              []string
		root                string
		interval            time.Duration
		failures, rounds    int
		once, drill, asJSON bool
	)
	fs := newFlagSet("watch", watchUsage, iox)
	so.AddFlags(fs)
	fs.StringVar(&root, "root", "", "the primary's QuantAI root (default: system.root)")
	fs.DurationVar(&interval, "interval", 0, "time between rounds (default: failover.health.interval, 30s)")
	fs.IntVar(&failures, "failures", 0, "failed rounds in a row that declare (default: failover.health.failures, 3)")
	fs.IntVar(&rounds, "rounds", 0, "stop after N rounds without a declaration (0: watch until interrupted)")
	fs.BoolVar(&once, "once", false, "probe one round, print it, exit 0 (healthy) or 1")
	fs.BoolVar(&drill, "drill", false, "declare a drill, not a live incident")
	fs.StringArrayVar(&rbDirs, "runbooks", nil, "folder of runbooks searched before the embedded ones")
	fs.BoolVar(&asJSON, "json", false, "print each round, then the incident, as JSON lines")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("watch: unexpected argument %q (run 'drbook watch --help')", fs.Arg(0))
	}
	if interval < 0 || failures < 0 || rounds < 0 {
		return usageErr("watch: --interval, --failures and --rounds must not be negative")
	}
	cfg, err := iox.Site()
	if err != nil {
		return err
	}
	ws, err := cfg.Failover.Watch()
	if err != nil {
		return usageErr("watch: %w", err)
	}
	if interval > 0 {
		ws.Interval = interval
	}
	if failures > 0 {
		ws.Failures = failures
	}
	if root == "" && cfg.System.Root != "" {
		root = cfg.Resolve(cfg.System.Root)
	}
	if root == "" {
		return usageErr("watch: no primary: give --root DIR or set system.root in the site configuration")
	}
	if root, err = filepath.Abs(root); err != nil {
		return usageErr("watch: --root: %w", err)
	}
	if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
		return usageErr("watch: --root %s: not a directory", root)
	}
	if drill && !sandbox.IsSandbox(root) {
		return usageErr("watch: --drill --root %s: not a drbook sandbox; a drill never acts on a real system", root)
	}
	probes := health.Probes(root, ws.HeartbeatMaxAge, ws.QuickCheck, ws.HTTP)
	if len(probes) == 0 {
		return usageErr("watch: nothing to probe (failover.health)")
	}
	printRound := func(r health.Round, line string) {
		if asJSON {
			_ = json.NewEncoder(iox.Stdout).Encode(struct {
				Round health.Round `json:"round"`
				OK    bool         `json:"ok"`
			}{r, r.OK()})
			return
		}
		fmt.Fprintln(iox.Stdout, line)
	}
	clock := func() time.Time { return now(iox) }
	if once {
		// One round through the same loop: a failing round "declares" at
		// once, a passing one runs the rounds out.
		_, err := health.Watch(ctx, health.Options{Probes: probes, Failures: 1, Rounds: 1, Now: clock,
			Round: func(r health.Round) { printRound(r, r.Line()) }})
		switch {
		case errors.Is(err, health.ErrHealthy):
			return nil
		case err != nil:
			return err
		}
		return failed(nil)
	}

	automatic := cfg.Failover.Automatic
	rbID := sitefailover.ManualRunbook
	if automatic {
		rbID = sitefailover.AutomaticRunbook
	}
	rb, err := runbook.Load(rbID, rbDirs)
	if err != nil {
		return loadErr("watch", err)
	}
	s, err := so.open("watch", iox, false)
	if err != nil {
		return err
	}
	defer s.Close()
	if id, err := sitefailover.Open(ctx, s, drill); err != nil {
		if errors.Is(err, sitefailover.ErrAlreadyFailingOver) {
			return failed(fmt.Errorf("watch: %s is open: the site is already failing over (close it before watching again)", id))
		}
		return incidentErr("watch", err)
	}
	if !asJSON {
		fmt.Fprintf(iox.Stdout, "watching %s every %s: %s; %d failed rounds declare %s\n", root, ws.Interval,
			probeNames(probes), ws.Failures, rbID)
	}
	det, err := health.Watch(ctx, health.Options{Probes: probes, Interval: ws.Interval, Failures: ws.Failures, Rounds: rounds,
		Now: clock, Log: func(l string) {
			if asJSON {
				return
			}
			fmt.Fprintln(iox.Stdout, l)
		}, Round: func(r health.Round) {
			if asJSON {
				printRound(r, "")
			}
		}})
	switch {
	case errors.Is(err, health.ErrHealthy):
		return nil
	case err != nil:
		return err
	}

	vars := cfg.FailoverVars()
	if f := cfg.Backup.PassphraseFile; f != "" && iox.Getenv("DRBOOK_PASSPHRASE") == "" && iox.Getenv("DRBOOK_PASSPHRASE_FILE") == "" {
		vars["DRBOOK_PASSPHRASE_FILE"] = cfg.Resolve(f)
	}
	env := steps.Env{Operator: "drbook watch"}
	switch {
	case iox.Getenv("DRBOOK_BACKUP_DIR") != "":
		env.BackupDir = iox.Getenv("DRBOOK_BACKUP_DIR")
	case len(cfg.Backup.Dirs) > 0:
		env.BackupDir = cfg.Resolve(cfg.Backup.Dirs[0])
	case !drill:
		env.BackupDir = backup.DefaultDir
	}
	var out strings.Builder
	res, err := sitefailover.Declare(ctx, det, sitefailover.Options{Store: s, Runbook: rb, Primary: root, Drill: drill,
		Automatic: automatic, Env: env, Vars: vars, Operator: incident.Operator{Name: "drbook watch"},
		Clock: clockFunc(clock), Out: &out})
	if asJSON {
		if res.ID != "" {
			_ = json.NewEncoder(iox.Stdout).Encode(res)
		}
	} else {
		fmt.Fprint(iox.Stdout, out.String())
	}
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return err
		}
		return failed(fmt.Errorf("watch: %w", err))
	}
	return failed(nil)
}

// clockFunc makes a clock function an incident clock.
type clockFunc func() time.Time

func (c clockFunc) Now() time.Time { return c() }

func probeNames(ps []health.Probe) string {
	var names []string
	for _, p := range ps {
		names = append(names, p.Name())
	}
	return strings.Join(names, ", ")
}
