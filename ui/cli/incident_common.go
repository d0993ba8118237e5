package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/drbook/drbook/runbook/incident"
	"github.com/spf13/pflag"
)

// stateOptions are the flags every incident command shares.
type stateOptions struct {
	stateDir string
	operator string
	s3       string
	rep      *incident.Replicator // set by replicator when --state-s3 names one
}

func (o *stateOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.stateDir, "state-dir", "", "state directory (default $DRBOOK_STATE_DIR, $XDG_STATE_HOME/drbook, ~/.local/state/drbook)")
}

// addS3 adds --state-s3 to the commands that replicate or read S3.
func (o *stateOptions) addS3(fs *pflag.FlagSet) {
	fs.StringVar(&o.s3, "state-s3", "", "replicate timelines to s3://bucket/prefix (default $DRBOOK_STATE_S3)")
}

// replicator sets o.rep from --state-s3 or $DRBOOK_STATE_S3 (nil if unset).
func (o *stateOptions) replicator(ctx context.Context, iox *IO, s *incident.Store) error {
	rep, err := stateReplicator(ctx, iox, o.s3, s)
	o.rep = rep
	return err
}

func (o *stateOptions) addOperator(fs *pflag.FlagSet) {
	fs.StringVar(&o.operator, "operator", "", "who is acting (default $SUDO_USER, else $USER; SSH client address from $SSH_CONNECTION)")
}

// dir is --state-dir, else $DRBOOK_STATE_DIR, else state.dir of the site
// configuration, else the default. A configuration that cannot be read
// leaves the choice to the environment and default: the command that needs
// the configuration itself says what is wrong with it.
func (o *stateOptions) dir(iox *IO) string {
	cfg, err := iox.Site()
	if err != nil {
		cfg = nil
	}
	return stateDirOr(iox, cfg, o.stateDir)
}

// open opens the state database. Commands that only read pass mustExist,
// so a mistyped --state-dir is reported rather than created.
func (o *stateOptions) open(cmd string, iox *IO, mustExist bool) (*incident.Store, error) {
	s, err := incident.OpenStoreWith(o.dir(iox), incident.StoreOptions{MustExist: mustExist})
	if err != nil {
		return nil, incidentErr(cmd, err)
	}
	return s, nil
}

func (o *stateOptions) op(iox *IO) incident.Operator {
	op := incident.OperatorFromEnv(iox.Getenv)
	if o.operator != "" {
		op.Name = o.operator
	}
	return op
}

// incidentErr names the command in an engine error. ExitCode decides the
// exit code: what the operator typed or pointed at is wrong (2: the
// incident package marks those conditions), or the incident is in a state
// that does not allow it (1).
func incidentErr(cmd string, err error) error {
	if err == nil {
		return nil
	}
	var ee *ExitError
	if errors.As(err, &ee) || errors.Is(err, context.Canceled) {
		return err
	}
	return fmt.Errorf("%s: %w", cmd, err)
}

// resolveID turns an optional ID argument of a command that only reads
// (timeline, report, comms) into an incident id. Without one it takes the
// most recently active open incident, else the most recently written
// closed one, and says which on stderr: right after a drill closes, its
// report is what the operator wants.
func resolveID(ctx context.Context, cmd string, iox *IO, s *incident.Store, args []string) (string, error) {
	ref := ""
	if len(args) > 0 {
		ref = args[0]
	}
	id, err := s.Resolve(ctx, ref)
	if ref == "" && errors.Is(err, incident.ErrNotFound) {
		list, lerr := s.Incidents(ctx) // open ones first, most recently written first
		if lerr != nil {
			return "", incidentErr(cmd, lerr)
		}
		if len(list) == 0 {
			return "", incidentErr(cmd, &incident.Error{Err: incident.ErrNotFound, Detail: "no incidents yet",
				Advice: "declare one with 'drbook declare RUNBOOK' or run 'drbook drill'"})
		}
		fmt.Fprintf(iox.Stderr, "drbook: %s: no open incident; showing the most recent, %s (%s)\n", cmd, list[0].ID, list[0].Status)
		return list[0].ID, nil
	}
	if err != nil {
		return "", incidentErr(cmd, err)
	}
	return id, nil
}

// parseWhen reads a --detected-at time: RFC 3339, "YYYY-MM-DD HH:MM[:SS]"
// or "HH:MM" (UTC, today), or a duration ago ("20m", "1h30m").
func parseWhen(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if d, err := time.ParseDuration(strings.TrimSuffix(strings.TrimSpace(strings.TrimSuffix(s, "ago")), " ")); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02 15:04"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, nil
		}
	}
	for _, layout := range []string{"15:04:05", "15:04"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			n := now.UTC()
			return time.Date(n.Year(), n.Month(), n.Day(), t.Hour(), t.Minute(), t.Second(), 0, time.UTC), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time: use RFC 3339 (2026-03-02T08:55:00Z), \"2026-03-02 08:55\", \"08:55\" (UTC) or a duration ago (20m)", s)
}

// incidentJSON is an incident's record for --json.
type incidentJSON struct {
	incident.Summary
	ElapsedSeconds int64 `json:"elapsed_seconds"`
	OnlyInS3       bool  `json:"only_in_s3,omitempty"` // 'drbook resume ID' rebuilds it here
}

func printIncident(ctx context.Context, w io.Writer, s *incident.Store, id string) error {
	list, err := s.Incidents(ctx)
	if err != nil {
		return incidentErr("incidents", err)
	}
	for _, sm := range list {
		if sm.ID == id {
			return writeJSON(w, incidentJSON{Summary: sm, ElapsedSeconds: int64(sm.Elapsed(time.Now()).Seconds())})
		}
	}
	return incidentErr("incidents", &incident.Error{Err: incident.ErrNotFound, Detail: id})
}

// attach opens an incident for one scripted change.
func attach(ctx context.Context, cmd string, iox *IO, so *stateOptions, ref string) (*incident.Store, *incident.Incident, error) {
	return attachWith(ctx, cmd, iox, so, ref, false)
}

// attachWith is attach; review opens a closed incident too, for what
// follows the close (findings, sign-offs).
func attachWith(ctx context.Context, cmd string, iox *IO, so *stateOptions, ref string, review bool) (*incident.Store, *incident.Incident, error) {
	s, err := so.open(cmd, iox, !so.hasS3(iox))
	if err != nil {
		return nil, nil, err
	}
	err = so.replicator(ctx, iox, s)
	if err == nil {
		err = fetchMissing(ctx, iox, so.rep, s, ref)
	}
	var id string
	if err == nil {
		id, err = s.Resolve(ctx, ref)
	}
	if err == nil {
		var in *incident.Incident
		in, err = incident.Open(ctx, s, id, nil, incident.SystemClock{}, incident.OpenOptions{Operator: so.op(iox), Review: review})
		if err == nil {
			return s, in, nil
		}
	}
	s.Close()
	return nil, nil, incidentErr(cmd, err)
}

// termWidth is the width human tables are fitted to: an SSH session at
// 80x24 must read them without wrapping.
const termWidth = 80

// writeTable writes rows as columns two spaces apart. Every column but the
// last is as wide as its widest cell and never cut; the last is cut with
// "…" so that each line fits width.
func writeTable(w io.Writer, width int, rows [][]string) error {
	var widths []int
	for _, r := range rows {
		for i, c := range r[:len(r)-1] {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	var b strings.Builder
	for _, r := range rows {
		used := 0
		for i, c := range r[:len(r)-1] {
			b.WriteString(c)
			b.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)+2))
			used += widths[i] + 2
		}
		last := []rune(r[len(r)-1])
		if room := width - used; len(last) > room {
			last = append(last[:max(room-1, 0)], '…')
		}
		b.WriteString(strings.TrimRight(string(last), " "))
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeFileAtomic writes path through a temporary file in its directory,
// so a failure never leaves half a file.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
