package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/runbook/site"
	"github.com/drbook/drbook/steps/backup"
)

// settingSpec ties a configuration key to the flag and the environment
// variable that override it, and to its built-in default. Commands resolve
// a value in this order: flag, environment, file, default.
type settingSpec struct {
	key, flag, env string
	def            func(getenv func(string) string) string
}

var settingSpecs = []settingSpec{
	{key: "system.root", flag: "root", def: func(func(string) string) string { return "." }},
	{key: "system.live", flag: "live", def: func(func(string) string) string { return "false" }},
	{key: "backup.dirs", flag: "to", env: "DRBOOK_BACKUP_DIR", def: func(func(string) string) string { return backup.DefaultDir }},
	{key: "backup.s3.url", flag: "s3", env: "DRBOOK_S3"},
	{key: "backup.s3.endpoint", flag: "s3-endpoint", env: "DRBOOK_S3_ENDPOINT"},
	{key: "backup.s3.region", flag: "s3-region", env: "DRBOOK_S3_REGION"},
	{key: "backup.s3.path_style", flag: "s3-path-style"},
	{key: "backup.passphrase_file", flag: "passphrase-file", env: "DRBOOK_PASSPHRASE_FILE"},
	{key: "state.dir", flag: "state-dir", env: "DRBOOK_STATE_DIR", def: incident.StateDir},
	{key: "state.s3", flag: "state-s3", env: "DRBOOK_STATE_S3"},
}

// effectiveSettings lists every value drbook would use, with its source:
// the flags set on fs, then the environment, then the file, then defaults.
func effectiveSettings(cfg *site.Config, fs *pflag.FlagSet, getenv func(string) string) []site.Setting {
	fromFile := map[string]site.Setting{}
	var order []string
	for _, s := range cfg.Settings() {
		fromFile[s.Key] = s
		order = append(order, s.Key)
	}
	var out []site.Setting
	seen := map[string]bool{}
	for _, sp := range settingSpecs {
		seen[sp.key] = true
		switch f := fs.Lookup(sp.flag); {
		case f != nil && f.Changed:
			out = append(out, site.Setting{Key: sp.key, Value: f.Value.String(), Source: "flag --" + sp.flag})
		case sp.env != "" && getenv(sp.env) != "":
			out = append(out, site.Setting{Key: sp.key, Value: getenv(sp.env), Source: "env $" + sp.env})
		case fromFile[sp.key].Source != "":
			out = append(out, fromFile[sp.key])
		case sp.def != nil:
			out = append(out, site.Setting{Key: sp.key, Value: sp.def(getenv), Source: "default"})
		}
	}
	for _, k := range order {
		if !seen[k] {
			out = append(out, fromFile[k])
		}
	}
	return out
}

const configUsage = `
Usage: drbook config [--config FILE] [--json] [flags that override it]
       drbook config check [--config FILE] [--json]

Print the effective site configuration: every value drbook uses, and where
it comes from (flag, environment, FILE:LINE, or default). The file is
--config, else $DRBOOK_CONFIG, else $XDG_CONFIG_HOME/drbook/drbook.yaml
(~/.config/drbook/drbook.yaml), else /etc/drbook/drbook.yaml.

'config check' validates the file: unknown keys, values of the wrong form,
unreadable paths, a passphrase file others can read, secrets written into
the file, placeholder, missing and stale emergency contacts. Each problem
is printed as FILE:LINE: message.

Exit codes: 0 ok (warnings allowed); 1 check found errors; 2 usage errors
or an unreadable or unparsable file; 130 interrupted.
`

func runConfig(ctx context.Context, iox *IO, args []string) error {
	if len(args) > 0 && args[0] == "check" {
		return runConfigCheck(ctx, iox, args[1:])
	}
	var cfgPath string
	var asJSON, live, pathStyle bool
	var root, to, s3, s3Endpoint, s3Region, passFile, stateDir, stateS3 string
	fs := newFlagSet("config", configUsage, iox)
	fs.StringVar(&cfgPath, "config", "", "the site configuration file")
	fs.BoolVar(&asJSON, "json", false, "print JSON for scripts")
	fs.StringVar(&root, "root", "", "override system.root")
	fs.BoolVar(&live, "live", false, "override system.live")
	fs.StringVar(&to, "to", "", "override backup.dirs")
	fs.StringVar(&s3, "s3", "", "override backup.s3.url")
	fs.StringVar(&s3Endpoint, "s3-endpoint", "", "override backup.s3.endpoint")
	fs.StringVar(&s3Region, "s3-region", "", "override backup.s3.region")
	fs.BoolVar(&pathStyle, "s3-path-style", false, "override backup.s3.path_style")
	fs.StringVar(&passFile, "passphrase-file", "", "override backup.passphrase_file")
	fs.StringVar(&stateDir, "state-dir", "", "override state.dir")
	fs.StringVar(&stateS3, "state-s3", "", "override state.s3")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("config: unexpected argument %q (run 'drbook config --help')", fs.Arg(0))
	}
	cfg, err := loadSite(iox, cfgPath)
	if err != nil {
		return err
	}
	settings := effectiveSettings(cfg, fs, iox.Getenv)
	if asJSON {
		return printJSON(iox.Stdout, struct {
			File     string         `json:"file"`
			Found    string         `json:"found_by,omitempty"`
			Settings []site.Setting `json:"settings"`
		}{cfg.Path, cfg.Source, settings})
	}
	if cfg.Path == "" {
		fmt.Fprintln(iox.Stdout, "# no configuration file (drbook init --root DIR writes one)")
	} else {
		fmt.Fprintf(iox.Stdout, "# %s (found by %s)\n", cfg.Path, cfg.Source)
	}
	tw := tabwriter.NewWriter(iox.Stdout, 0, 0, 2, ' ', 0)
	for _, s := range settings {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Key, oneLineValue(s.Value), s.Source)
	}
	return tw.Flush()
}

func oneLineValue(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	if s == "" {
		return `""`
	}
	return s
}

// loadSite reads the site configuration named by flag, environment or the
// default places; errors are usage errors (exit 2).
func loadSite(iox *IO, flagPath string) (*site.Config, error) {
	if flagPath != "" {
		iox.ConfigPath, iox.site = flagPath, nil
	}
	return iox.Site()
}

func runConfigCheck(ctx context.Context, iox *IO, args []string) error {
	var cfgPath, stateDir string
	var asJSON bool
	fs := newFlagSet("config check", configUsage, iox)
	fs.StringVar(&cfgPath, "config", "", "the site configuration file")
	fs.StringVar(&stateDir, "state-dir", "", "state directory holding contact verifications")
	fs.BoolVar(&asJSON, "json", false, "print JSON for scripts")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("config check: unexpected argument %q (run 'drbook config --help')", fs.Arg(0))
	}
	cfg, err := loadSite(iox, cfgPath)
	if err != nil {
		return err
	}
	if cfg.Path == "" {
		return usageErr("config check: no configuration file found (give --config FILE, or write one with 'drbook init --root DIR')")
	}
	seen, err := site.LoadVerifications(stateDirOr(iox, cfg, stateDir))
	if err != nil {
		return usageErr("config check: %w", err)
	}
	ps := cfg.Check(now(iox), seen)
	errs := 0
	for _, p := range ps {
		if p.Level == site.Error {
			errs++
		}
	}
	if asJSON {
		if ps == nil {
			ps = []site.Problem{}
		}
		if err := printJSON(iox.Stdout, struct {
			File     string         `json:"file"`
			OK       bool           `json:"ok"`
			Problems []site.Problem `json:"problems"`
		}{cfg.Path, errs == 0, ps}); err != nil {
			return err
		}
	} else {
		for _, p := range ps {
			fmt.Fprintln(iox.Stdout, p.String())
		}
		fmt.Fprintf(iox.Stdout, "%s: %d error(s), %d warning(s)\n", cfg.Path, errs, len(ps)-errs)
	}
	if errs > 0 {
		return failed(nil)
	}
	return nil
}

// stateDirOr is the state directory: the flag, else $DRBOOK_STATE_DIR,
// else the configuration's state.dir, else the default.
func stateDirOr(iox *IO, cfg *site.Config, flag string) string {
	if flag != "" {
		return flag
	}
	if d := iox.Getenv("DRBOOK_STATE_DIR"); d != "" {
		return d
	}
	if cfg != nil && cfg.State.Dir != "" {
		return cfg.Resolve(cfg.State.Dir)
	}
	return incident.StateDir(iox.Getenv)
}

// now is the command line's clock.
func now(iox *IO) time.Time {
	if iox.Now != nil {
		return iox.Now()
	}
	return time.Now()
}

const initUsage = `
Usage: drbook init --root DIR [-o FILE] [--force]

Look at the QuantAI system under DIR (its database, the keys of its .env,
backup folders, broker statements) and write a commented starting site
configuration: to -o FILE, else $XDG_CONFIG_HOME/drbook/drbook.yaml
(~/.config/drbook/drbook.yaml). '-o -' prints it. An existing file is kept
unless --force. The file names where secrets are, never their values; its
contacts are the plan's placeholders until you fill them in ('drbook config
check' lists what is left).

Exit codes: 0 written; 2 usage errors, DIR unreadable or the file exists;
130 interrupted.
`

func runInit(ctx context.Context, iox *IO, args []string) error {
	var root, out string
	var force bool
	fs := newFlagSet("init", initUsage, iox)
	fs.StringVar(&root, "root", "", "the QuantAI system root to describe")
	fs.StringVarP(&out, "output", "o", "", "write here ('-' for stdout)")
	fs.BoolVar(&force, "force", false, "overwrite an existing file")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("init: unexpected argument %q (run 'drbook init --help')", fs.Arg(0))
	}
	if root == "" {
		return usageErr("init: --root DIR is required (the QuantAI installation to describe)")
	}
	s, err := site.SurveySystem(root)
	if err != nil {
		return usageErr("%w", err)
	}
	data := site.Init(s)
	if out == "-" {
		_, err := iox.Stdout.Write(data)
		return err
	}
	if out == "" {
		base := iox.Getenv("XDG_CONFIG_HOME")
		if base == "" {
			h := iox.Getenv("HOME")
			if h == "" {
				return usageErr("init: no $XDG_CONFIG_HOME or $HOME: give -o FILE")
			}
			base = filepath.Join(h, ".config")
		}
		out = filepath.Join(base, "drbook", "drbook.yaml")
	}
	if _, err := os.Stat(out); err == nil && !force {
		return usageErr("init: %s exists; nothing written (--force replaces it, -o - prints the new one)", out)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return usageErr("init: %w", err)
	}
	if err := writeFileAtomic(out, func(w io.Writer) error { _, err := w.Write(data); return err }); err != nil {
		return usageErr("init: %w", err)
	}
	fmt.Fprintf(iox.Stdout, "wrote %s for %s\n", out, s.Root)
	if !s.HasDB {
		fmt.Fprintf(iox.Stdout, "note: %s has no data/quantai.db: check the root\n", s.Root)
	}
	fmt.Fprintln(iox.Stdout, "next: fill in the contacts, then run 'drbook config check --config "+out+"'")
	return nil
}

const contactsUsage = `
Usage: drbook contacts [list] [--config FILE] [--json]
       drbook contacts verify NAME|ROLE [--config FILE] [--by WHO]

List the emergency contacts of the site configuration with when each was
last verified, or record that NAME (or the holder of ROLE) was confirmed
current today. Verifications are kept in the state directory, beside the
incidents, so the configuration file may stay read-only.

Exit codes: 0 ok; 1 list: a contact is a placeholder, missing or stale;
2 usage errors or an unknown contact; 130 interrupted.
`

func runContacts(ctx context.Context, iox *IO, args []string) error {
	sub := "list"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[0], args[1:]
	}
	var cfgPath, stateDir, by string
	var asJSON bool
	fs := newFlagSet("contacts", contactsUsage, iox)
	fs.StringVar(&cfgPath, "config", "", "the site configuration file")
	fs.StringVar(&stateDir, "state-dir", "", "state directory for verifications")
	fs.StringVar(&by, "by", "", "who verified (default: you)")
	fs.BoolVar(&asJSON, "json", false, "print JSON for scripts")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := loadSite(iox, cfgPath)
	if err != nil {
		return err
	}
	dir := stateDirOr(iox, cfg, stateDir)
	switch sub {
	case "verify":
		if fs.NArg() != 1 {
			return usageErr("contacts verify: want one NAME or ROLE (run 'drbook contacts --help')")
		}
		c, err := cfg.FindContact(fs.Arg(0))
		if err != nil {
			return usageErr("contacts verify: %w", err)
		}
		if by == "" {
			by = incident.OperatorFromEnv(iox.Getenv).String()
		}
		t := now(iox)
		if err := site.RecordVerification(dir, c.Name, t, by); err != nil {
			return err
		}
		fmt.Fprintf(iox.Stdout, "%s (%s) verified %s by %s\n", c.Name, c.Role, t.UTC().Format(time.DateOnly), by)
		return nil
	case "list":
		if fs.NArg() > 0 {
			return usageErr("contacts: unexpected argument %q (run 'drbook contacts --help')", fs.Arg(0))
		}
		seen, err := site.LoadVerifications(dir)
		if err != nil {
			return usageErr("contacts: %w", err)
		}
		t := now(iox)
		ps := cfg.ContactProblems(t, seen)
		if asJSON {
			type row struct {
				site.Contact
				LastVerified *time.Time `json:"last_verified,omitempty"`
			}
			rows := []row{}
			for _, p := range cfg.Contacts.People {
				r := row{Contact: p}
				if lv := p.LastVerified(seen); !lv.IsZero() {
					r.LastVerified = &lv
				}
				rows = append(rows, r)
			}
			if ps == nil {
				ps = []site.Problem{}
			}
			if err := printJSON(iox.Stdout, struct {
				Contacts []row          `json:"contacts"`
				Problems []site.Problem `json:"problems"`
			}{rows, ps}); err != nil {
				return err
			}
		} else if len(cfg.Contacts.People) == 0 {
			fmt.Fprintln(iox.Stdout, "no contacts in the site configuration (the runbooks' own list is used)")
		} else {
			fmt.Fprint(iox.Stdout, strings.TrimPrefix(cfg.ContactsMarkdown(t, seen), "## Emergency Contacts\n\n"))
			sort.SliceStable(ps, func(i, j int) bool { return ps[i].Level < ps[j].Level })
			for _, p := range ps {
				fmt.Fprintln(iox.Stdout, p.String())
			}
		}
		if len(ps) > 0 {
			return failed(nil)
		}
		return nil
	}
	return usageErr("contacts: unknown subcommand %q (list or verify)", sub)
}
