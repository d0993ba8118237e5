// Package checks looks at a QuantAI system and says whether it is sound:
// database integrity, critical tables, the DR plan's data validation
// queries, configuration, and backup freshness. Checks only look: they open
// the database read-only in a way that creates no -wal, -shm or journal
// file next to it and changes no byte of the system.
//
// Each check yields structured findings, streamed as they finish.
package checks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/drbook/drbook/steps/system"
)

// Status is a finding's verdict.
type Status string

// Verdicts, from best to worst.
const (
	Pass Status = "pass"
	Warn Status = "warn" // worth a look, not a failure (pending trades, no catalogue)
	Fail Status = "fail"
)

func (s Status) rank() int {
	switch s {
	case Pass:
		return 0
	case Warn:
		return 1
	default:
		return 2
	}
}

// Worse returns the worse of two statuses.
func Worse(a, b Status) Status {
	if b.rank() > a.rank() {
		return b
	}
	return a
}

// Names of the checks, in the order they are reported.
const (
	DBIntegrity     = "db-integrity"
	CriticalTables  = "critical-tables"
	DataValidation  = "data-validation"
	Config          = "config"
	BackupFreshness = "backup-freshness"
)

// ErrUnknownCheck is returned for a name in Options.Only that is no check.
var ErrUnknownCheck = errors.New("unknown check")

// MaxRows is how many offending rows a finding carries as evidence.
const MaxRows = 5

// Evidence backs a finding: a count, the first offending rows, other facts.
type Evidence struct {
	Count   int64             `json:"count"`
	Columns []string          `json:"columns,omitempty"`
	Rows    [][]string        `json:"rows,omitempty"` // at most MaxRows (10 for integrity errors)
	Facts   map[string]string `json:"facts,omitempty"`
}

// Finding is one result of one check.
type Finding struct {
	Check    string        // the check: db-integrity, data-validation...
	Item     string        // what within the check: quick_check, orphaned-trades, env...
	Status   Status        // pass, warn or fail
	Message  string        // one line for a human
	Evidence *Evidence     // nil when there is nothing to show
	Duration time.Duration // how long the item took
}

type findingJSON struct {
	Check      string    `json:"check"`
	Item       string    `json:"item"`
	Status     Status    `json:"status"`
	Message    string    `json:"message"`
	Evidence   *Evidence `json:"evidence,omitempty"`
	DurationMS float64   `json:"duration_ms"`
}

// MarshalJSON writes the duration in milliseconds.
func (f Finding) MarshalJSON() ([]byte, error) {
	return json.Marshal(findingJSON{f.Check, f.Item, f.Status, f.Message, f.Evidence, ms(f.Duration)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (f *Finding) UnmarshalJSON(b []byte) error {
	var j findingJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*f = Finding{j.Check, j.Item, j.Status, j.Message, j.Evidence, time.Duration(j.DurationMS * float64(time.Millisecond))}
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// CheckResult sums up one check: the worst status of its findings.
type CheckResult struct {
	Name     string        `json:"name"`
	Status   Status        `json:"status"`
	Findings int           `json:"findings"`
	Duration time.Duration `json:"-"`
}

// Report is the outcome of Run.
type Report struct {
	Root     string
	Started  time.Time
	Duration time.Duration
	Checks   []CheckResult // in report order
	Findings []Finding     // in report order: by check, then as found
}

// Status is the worst status of all checks.
func (r Report) Status() Status {
	s := Pass
	for _, c := range r.Checks {
		s = Worse(s, c.Status)
	}
	return s
}

// Failed reports whether any check failed.
func (r Report) Failed() bool { return r.Status() == Fail }

// Check returns the result of the check called name.
func (r Report) Check(name string) (CheckResult, bool) {
	for _, c := range r.Checks {
		if c.Name == name {
			return c, true
		}
	}
	return CheckResult{}, false
}

// MarshalJSON writes the report as documented in docs/checks.md.
func (r Report) MarshalJSON() ([]byte, error) {
	type check struct {
		CheckResult
		DurationMS float64 `json:"duration_ms"`
	}
	out := struct {
		Root       string    `json:"root"`
		Status     Status    `json:"status"`
		Started    time.Time `json:"started"`
		DurationMS float64   `json:"duration_ms"`
		Checks     []check   `json:"checks"`
		Findings   []Finding `json:"findings"`
	}{r.Root, r.Status(), r.Started, ms(r.Duration), []check{}, r.Findings}
	for _, c := range r.Checks {
		out.Checks = append(out.Checks, check{c, ms(c.Duration)})
	}
	if out.Findings == nil {
		out.Findings = []Finding{}
	}
	return json.Marshal(out)
}

// BackupInfo describes one backup, as the backup catalogue lists it.
type BackupInfo struct {
	Name     string    // backup name or id
	Location string    // "local" or "s3"
	Time     time.Time // when the backup was taken (its recovery point)
	Tier     int       // data tier of the plan (1, 2, 3); 0 when unknown
	// Status is the catalogue's word for it: verified, damaged-source,
	// unverified or restore-test-failed.
	Status string
	// Counts is true only for a verified backup: it was read back intact,
	// its snapshot passed a full integrity_check and the data validation,
	// and no restore test has failed on it. Only such a backup meets the RPO.
	Counts  bool
	Problem string // why it does not count
	Size    int64  // bytes
}

// BackupsFunc lists the backups of a system, locally and on S3 when
// configured. The backup package supplies it; checks never imports it.
type BackupsFunc func(ctx context.Context) ([]BackupInfo, error)

// Options select and shape the checks.
type Options struct {
	Root string   // system root: data/quantai.db, config/, .env
	Only []string // check names to run; empty means all
	Full bool     // PRAGMA integrity_check instead of quick_check
	// Backups lists backups for backup-freshness; the caller passes the
	// catalogue (backup.Catalogue). Nil makes backup-freshness warn that
	// it cannot tell whether any backup exists.
	Backups BackupsFunc
	RPO     time.Duration    // recovery point objective; 0 means 15 minutes
	Now     func() time.Time // clock; nil means time.Now
	// MmapSize caps memory-mapped reads of the database per connection:
	// 0 means DefaultMmapSize, below 0 turns them off. Mapped pages count
	// in the process's RSS; a caller with a memory budget turns them off.
	MmapSize int64
}

// DefaultMmapSize is the default cap on memory-mapped reads: memory-mapped
// reads halve the time of quick_check under modernc.
const DefaultMmapSize = 2147418112

// DefaultRPO is the plan's recovery point objective.
const DefaultRPO = 15 * time.Minute

type checkFunc func(ctx context.Context, c *run, out func(Finding))

type checkDef struct {
	name, summary string
	run           checkFunc
}

var defs = []checkDef{
	{DBIntegrity, "database file, PRAGMA quick_check (integrity_check with --full), foreign keys", checkDB},
	{CriticalTables, "row counts of trades, positions, audit_trail, accounts", checkTables},
	{DataValidation, "orphaned trades, negative cash balances, audit gaps, positions vs trades, pending trades and orders", checkData},
	{Config, ".env required variables, settings and agent configurations parse", checkConfig},
	{BackupFreshness, "age of the newest verified backup against the RPO and tier schedules", checkBackups},
}

// Names lists every check in report order.
func Names() []string {
	out := make([]string, len(defs))
	for i, d := range defs {
		out[i] = d.name
	}
	return out
}

// Describe returns a check's one-line summary.
func Describe(name string) string {
	for _, d := range defs {
		if d.name == name {
			return d.summary
		}
	}
	return ""
}

// run is the state shared by the checks of one Run.
type run struct {
	opts Options
	now  time.Time
}

func (r *run) mmap() int64 {
	switch {
	case r.opts.MmapSize == 0:
		return DefaultMmapSize
	case r.opts.MmapSize < 0:
		return 0
	}
	return r.opts.MmapSize
}

func (r *run) dbPath() string { return system.DB(r.opts.Root) }

// Run runs the selected checks concurrently and calls emit (never
// concurrently) with each finding as it is made. It returns the report in
// check order. A cancelled context stops the checks; Run then returns what
// it has with the context's error.
func Run(ctx context.Context, opts Options, emit func(Finding)) (Report, error) {
	var selected []checkDef
	for _, n := range opts.Only {
		if !slices.Contains(Names(), n) {
			return Report{}, fmt.Errorf("check %q: %w (known: %s)", n, ErrUnknownCheck, strings.Join(Names(), ", "))
		}
	}
	for _, d := range defs {
		if len(opts.Only) == 0 || slices.Contains(opts.Only, d.name) {
			selected = append(selected, d)
		}
	}
	if opts.Root == "" {
		opts.Root = "."
	}
	if opts.RPO == 0 {
		opts.RPO = DefaultRPO
	}
	clock := opts.Now
	if clock == nil {
		clock = time.Now
	}
	r := &run{opts: opts, now: clock()}
	rep := Report{Root: opts.Root, Started: r.now}
	start := time.Now()

	var mu sync.Mutex
	per := make([][]Finding, len(selected))
	durs := make([]time.Duration, len(selected))
	var wg sync.WaitGroup
	for i, d := range selected {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.Now()
			d.run(ctx, r, func(f Finding) {
				f.Check = d.name
				mu.Lock()
				defer mu.Unlock()
				per[i] = append(per[i], f)
				if emit != nil {
					emit(f)
				}
			})
			durs[i] = time.Since(t)
		}()
	}
	wg.Wait()
	for i, d := range selected {
		cr := CheckResult{Name: d.name, Status: Pass, Findings: len(per[i]), Duration: durs[i]}
		for _, f := range per[i] {
			cr.Status = Worse(cr.Status, f.Status)
		}
		rep.Checks = append(rep.Checks, cr)
		rep.Findings = append(rep.Findings, per[i]...)
	}
	rep.Duration = time.Since(start)
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	return rep, nil
}

// timed returns a function that stamps a finding with the time since now.
func timed() func(f Finding) Finding {
	t := time.Now()
	return func(f Finding) Finding {
		f.Duration = time.Since(t)
		return f
	}
}
