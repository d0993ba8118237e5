// Package sandbox builds a realistic, deterministic QuantAI system tree for
// drills, tests and benchmarks, and breaks it on purpose: each fault
// scenario damages the tree the way a real incident would, so drbook's
// checks and recovery actions have something real to find and repair.
//
// A sandbox root holds:
//
//	.drbook-sandbox              marker: this tree is a drbook sandbox (JSON)
//	data/quantai.db              SQLite, WAL mode, the schema in schema.sql
//	config/*.yaml                settings
//	config/agents/*.json         agent configurations
//	.env                         required variables with fake values
//	logs/*.log                   application logs
//	brokers/ibkr_positions.csv   IBKR-style positions statement
//	brokers/alpaca_positions.json Alpaca /v2/positions-style statement
//
// The same Options (seed and trade count) always produce the same bytes.
package sandbox

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/drbook/drbook/runbook/hint"
	"github.com/drbook/drbook/steps/system"
)

// Schema is the QuantAI database schema the sandbox creates.
//
//go:embed schema.sql
var Schema string

// MarkerFile is the file, directly under a sandbox root, that marks the tree
// as a drbook sandbox. drbook only ever creates, replaces or damages trees
// that carry it.
const MarkerFile = system.MarkerFile

// Paths of the parts of a QuantAI tree, relative to its root.
const (
	DBFile          = system.DBFile
	EnvFile         = system.EnvFile
	ConfigDir       = system.ConfigDir
	AgentsDir       = system.AgentsDir
	LogsDir         = system.LogsDir
	IBKRStatement   = system.IBKRStatement
	AlpacaStatement = system.AlpacaStatement
)

// RequiredEnv lists the variables the DR plan (section 3.2) requires in .env.
var RequiredEnv = []string{"OPENAI_API_KEY", "IBKR_HOST", "IBKR_PORT", "ALPACA_API_KEY", "TRADING_MODE"}

// TimeLayout is the fixed-width timestamp format of every time column:
// RFC 3339 in UTC with nine fraction digits, so string order is time order.
const TimeLayout = "2006-01-02T15:04:05.000000000Z"

// DefaultTrades is the trade count of a sandbox when Options.Trades is 0:
// small enough to build in well under a second.
const DefaultTrades = 5000

// MinTrades is the smallest trade count Create accepts; fewer trades could
// not give every fault scenario something to damage.
const MinTrades = 200

// DefaultNow is the sandbox's present when Options.Now is zero. A fixed date
// keeps sandboxes reproducible byte for byte.
var DefaultNow = time.Date(2026, time.March, 13, 20, 0, 0, 0, time.UTC)

// Options shape a sandbox.
type Options struct {
	// Trades is the number of trades; 0 means DefaultTrades. About 5,000,000
	// makes a database of roughly 1 GB.
	Trades int
	// Seed selects the data; the same seed gives the same bytes.
	Seed int64
	// Now is the sandbox's present: the newest trade is a few minutes
	// before it. Zero means DefaultNow.
	Now time.Time
	// Replace allows Create to replace an existing sandbox at root. A tree
	// that is not a sandbox is never replaced.
	Replace bool
	// Progress, when set, is called now and then with the trades written.
	Progress func(done, total int)
}

// Errors callers test for.
var (
	// ErrNotSandbox: the directory holds something that is not a drbook
	// sandbox, which drbook refuses to write into.
	ErrNotSandbox = errors.New("not a drbook sandbox")
	// ErrExists: a sandbox already exists at the root.
	ErrExists = errors.New("sandbox already exists")
	// ErrUnknownFault: no fault scenario has that name. It is bad input
	// (hint.IsInput).
	ErrUnknownFault = hint.NewInput("unknown fault scenario")
)

// Marker is the content of the marker file.
type Marker struct {
	Sandbox int       `json:"drbook_sandbox"` // format version, 1
	Seed    int64     `json:"seed"`
	Trades  int       `json:"trades"`
	Now     time.Time `json:"now"`
	Faults  []string  `json:"faults"` // injected so far, in order
}

// IsSandbox reports whether root is a drbook sandbox (see system.IsSandbox).
func IsSandbox(root string) bool { return system.IsSandbox(root) }

// ReadMarker reads a sandbox's marker file.
func ReadMarker(root string) (Marker, error) {
	var m Marker
	b, err := os.ReadFile(filepath.Join(root, MarkerFile))
	if err != nil {
		return m, fmt.Errorf("read sandbox marker: %w", err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("read sandbox marker %s: %w", filepath.Join(root, MarkerFile), err)
	}
	return m, nil
}

func writeMarker(root string, m Marker) error {
	if m.Faults == nil {
		m.Faults = []string{}
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return writeFile(filepath.Join(root, MarkerFile), append(b, '\n'))
}

// Create builds a sandbox at root. root must not exist, be empty, or (with
// Options.Replace) already be a sandbox; anything else is refused with
// ErrNotSandbox so a real system is never clobbered.
func Create(ctx context.Context, root string, opts Options) error {
	if opts.Trades == 0 {
		opts.Trades = DefaultTrades
	}
	if opts.Trades < MinTrades {
		return fmt.Errorf("create sandbox: %d trades is too few (at least %d)", opts.Trades, MinTrades)
	}
	if opts.Now.IsZero() {
		opts.Now = DefaultNow
	}
	opts.Now = opts.Now.UTC()
	if err := prepareRoot(root, opts.Replace); err != nil {
		return err
	}
	// The marker goes first: should generation fail halfway, the tree is
	// still recognisably ours and can be replaced.
	m := Marker{Sandbox: 1, Seed: opts.Seed, Trades: opts.Trades, Now: opts.Now}
	if err := writeMarker(root, m); err != nil {
		return fmt.Errorf("create sandbox: %w", err)
	}
	w, err := generate(ctx, root, opts)
	if err != nil {
		return fmt.Errorf("create sandbox: %w", err)
	}
	if err := writeFiles(root, opts, w); err != nil {
		return fmt.Errorf("create sandbox: %w", err)
	}
	// The system is alive as created: its trading loop beat just now.
	if err := WriteHeartbeat(root, time.Now()); err != nil {
		return fmt.Errorf("create sandbox: %w", err)
	}
	return nil
}

// prepareRoot makes root ready to receive a sandbox.
func prepareRoot(root string, replace bool) error {
	if fi, err := os.Stat(root); err == nil && !fi.IsDir() {
		return fmt.Errorf("create sandbox in %s: it is a file, not a directory; name a new or empty directory", root)
	}
	entries, err := os.ReadDir(root)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return os.MkdirAll(root, 0o755)
	case err != nil:
		return fmt.Errorf("create sandbox: %w", err)
	case len(entries) == 0:
		return nil
	case !IsSandbox(root):
		return fmt.Errorf("create sandbox in %s: directory is not empty and %w (no %s); refusing to write into it", root, ErrNotSandbox, MarkerFile)
	case !replace:
		return fmt.Errorf("create sandbox in %s: %w", root, ErrExists)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	// Remove the marker last so an interrupted replace leaves a tree that
	// is still recognised as a sandbox.
	for _, n := range names {
		if n == MarkerFile {
			continue
		}
		if err := os.RemoveAll(filepath.Join(root, n)); err != nil {
			return fmt.Errorf("replace sandbox: %w", err)
		}
	}
	return nil
}

func writeFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}
