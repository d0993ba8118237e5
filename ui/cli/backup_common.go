package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/drbook/drbook/runbook/hint"
	"github.com/drbook/drbook/steps"
	"github.com/drbook/drbook/steps/backup"
	"github.com/spf13/pflag"
	"golang.org/x/term"
)

// backupFlags are the flags the backup commands share.
type backupFlags struct {
	root        string
	dir         string
	s3          string
	s3Endpoint  string
	s3Region    string
	s3PathStyle bool
	// s3PathStyleSet: --s3-path-style was given, or the site configuration
	// asks for path-style addressing.
	s3PathStyleSet bool
	passFile       string
	json           bool
	noProgress     bool
	incident       string
	stateDir       string
}

func (o *backupFlags) addStore(fs *pflag.FlagSet) {
	fs.StringVar(&o.dir, "to", "", "local backup directory (default $DRBOOK_BACKUP_DIR, backup.dirs of the site configuration, else "+backup.DefaultDir+")")
	fs.StringVar(&o.s3, "s3", "", "S3 destination s3://bucket/prefix (default backup.s3 of the site configuration; credentials from the standard AWS chain)")
	fs.StringVar(&o.s3Endpoint, "s3-endpoint", "", "S3-compatible endpoint URL (MinIO, Ceph...); implies path-style addressing")
	fs.StringVar(&o.s3Region, "s3-region", "", "S3 region (default from the AWS configuration, else us-east-1)")
	fs.BoolVar(&o.s3PathStyle, "s3-path-style", false, "use path-style S3 addressing")
}

func (o *backupFlags) addCommon(fs *pflag.FlagSet, root bool) {
	if root {
		fs.StringVar(&o.root, "root", ".", "the QuantAI system directory (holds data/quantai.db, config/, .env, logs/; default system.root of the site configuration, else .)")
	}
	fs.StringVar(&o.passFile, "passphrase-file", "", "read the passphrase from this file's first line (else $DRBOOK_PASSPHRASE, $DRBOOK_PASSPHRASE_FILE, backup.passphrase_file of the site configuration, else a prompt)")
	fs.BoolVar(&o.json, "json", false, "print JSON for scripts")
	fs.BoolVar(&o.noProgress, "no-progress", false, "no progress line on the terminal")
}

func (o *backupFlags) addIncident(fs *pflag.FlagSet) {
	fs.StringVar(&o.incident, "incident", "", "record the run, its output and result (the backup time, for the RPO) in this open incident's timeline")
	fs.StringVar(&o.stateDir, "state-dir", "", "state directory for --incident (default $DRBOOK_STATE_DIR, $XDG_STATE_HOME/drbook, ~/.local/state/drbook)")
}

func (o *backupFlags) backupDir(iox *IO) string {
	if o.dir != "" {
		return o.dir
	}
	if d := iox.Getenv("DRBOOK_BACKUP_DIR"); d != "" {
		return d
	}
	return backup.DefaultDir
}

func (o *backupFlags) s3Config(fs *pflag.FlagSet) *backup.S3Config {
	if o.s3 == "" {
		return nil
	}
	c := &backup.S3Config{URL: o.s3, Endpoint: o.s3Endpoint, Region: o.s3Region}
	if o.s3PathStyleSet {
		c.PathStyle = &o.s3PathStyle
	}
	return c
}

// s3ConfigFor is the S3 configuration for an s3:// --from without --s3.
func (o *backupFlags) s3ConfigFor(fs *pflag.FlagSet, from string) *backup.S3Config {
	if c := o.s3Config(fs); c != nil {
		return c
	}
	if strings.HasPrefix(from, "s3://") {
		c := &backup.S3Config{URL: from, Endpoint: o.s3Endpoint, Region: o.s3Region}
		if o.s3PathStyleSet {
			c.PathStyle = &o.s3PathStyle
		}
		return c
	}
	return nil
}

// passphrase reads the passphrase: --passphrase-file, $DRBOOK_PASSPHRASE,
// then a no-echo prompt on a terminal (twice when confirm is set). It is
// never a flag value.
func (o *backupFlags) passphrase(iox *IO, confirm bool) ([]byte, error) {
	if o.passFile != "" {
		p, err := backup.ReadPassphraseFile(o.passFile)
		if err != nil {
			return nil, usageErr("%w", err)
		}
		return p, nil
	}
	if p := iox.Getenv("DRBOOK_PASSPHRASE"); p != "" {
		return []byte(p), nil
	}
	f, ok := iox.Stdin.(*os.File)
	if !iox.IsTerminal || !ok || !term.IsTerminal(int(f.Fd())) {
		return nil, usageErr("no passphrase: give --passphrase-file FILE or set DRBOOK_PASSPHRASE (no terminal to prompt on)")
	}
	fmt.Fprint(iox.Stderr, "Backup passphrase: ")
	p, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(iox.Stderr)
	if err != nil {
		return nil, usageErr("read passphrase: %w", err)
	}
	if len(p) == 0 {
		return nil, usageErr("empty passphrase")
	}
	if confirm {
		fmt.Fprint(iox.Stderr, "Repeat passphrase: ")
		q, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(iox.Stderr)
		if err != nil {
			return nil, usageErr("read passphrase: %w", err)
		}
		if string(p) != string(q) {
			return nil, usageErr("the passphrases differ")
		}
	}
	return p, nil
}

// progress returns an emit that prints commentary lines to stderr and, on
// a terminal, one rewritten progress line.
func (o *backupFlags) progress(iox *IO) (steps.Emit, func()) {
	return o.progressTo(iox, nil)
}

// progressTo is progress that also copies commentary lines into out.
func (o *backupFlags) progressTo(iox *IO, out *strings.Builder) (steps.Emit, func()) {
	showBar := iox.IsTerminal && !o.noProgress
	var last time.Time
	dirty := false
	clear := func() {
		if dirty {
			fmt.Fprint(iox.Stderr, "\r\033[K")
			dirty = false
		}
	}
	emit := func(ev steps.Event) {
		if ev.Progress != nil {
			if !showBar || time.Since(last) < 200*time.Millisecond && ev.Progress.Done != ev.Progress.Total {
				return
			}
			last = time.Now()
			p := ev.Progress
			line := fmt.Sprintf("%-16s %s", p.Phase, progressAmount(p))
			fmt.Fprint(iox.Stderr, "\r\033[K"+line)
			dirty = true
			return
		}
		if ev.Line != "" && out != nil {
			out.WriteString(ev.Line + "\n")
		}
		if ev.Line != "" && !o.json {
			clear()
			fmt.Fprintln(iox.Stderr, ev.Line)
		}
	}
	return emit, clear
}

func progressAmount(p *steps.Progress) string {
	amt := func(n int64) string {
		if p.Unit == "bytes" {
			return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
		}
		return fmt.Sprintf("%d %s", n, p.Unit)
	}
	if p.Total > 0 {
		return fmt.Sprintf("%3d%%  %s of %s", p.Done*100/p.Total, amt(p.Done), amt(p.Total))
	}
	return amt(p.Done)
}

// backupErr names the command in a backup domain error and leaves the exit
// code to ExitCode: the backup package marks its bad-input conditions
// (wrong passphrase, corrupt or unsafe archive, no backup, unreadable
// store, too large) and its findings (a damaged source). For a backup
// command a file that does not exist is unreadable input as well.
func backupErr(cmd string, err error) error {
	if err == nil {
		return nil
	}
	var ee *ExitError
	if errors.As(err, &ee) || errors.Is(err, context.Canceled) {
		return err
	}
	if !hint.IsInput(err) && !errors.Is(err, backup.ErrDamagedSource) && errors.Is(err, os.ErrNotExist) {
		return hint.Input(prefixed(cmd, err))
	}
	return prefixed(cmd, err)
}

// prefixed names the command in an error unless it already does.
func prefixed(cmd string, err error) error {
	if strings.HasPrefix(err.Error(), cmd+":") {
		return err
	}
	return fmt.Errorf("%s: %w", cmd, err)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
