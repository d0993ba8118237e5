package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/drbook/drbook/steps/backup"
	"github.com/drbook/drbook/steps/sandbox"
)

func demoUsage() string {
	var b strings.Builder
	b.WriteString(`
Usage: drbook demo --root DIR [--secondary DIR2] [--trades N] [--seed S]
                   [--fault NAME,...] [--force]

Create a realistic QuantAI system at DIR for drills, tests and benchmarks:
data/quantai.db (SQLite, WAL mode: accounts, positions, orders, trades,
audit_trail, control), config/ with agent configurations, .env with fake
values, logs/, and broker statements brokers/ibkr_positions.csv and
brokers/alpaca_positions.json that agree with the database, and the trading
loop's heartbeat logs/heartbeat (touched now: touch it to keep the system
alive for 'drbook watch'). The same seed and trade count always give the
same bytes. --trades 5000000 makes a database of about 1 GB.

--secondary DIR2 also creates a standby secondary site at DIR2 (same rules
as DIR) for 'drbook standby sync' and 'drbook watch' (docs/failover.md).

DIR must not exist, be empty, or be a drbook sandbox (it holds a
.drbook-sandbox marker); drbook never writes into anything else. An
existing sandbox is only recreated with --force. --fault alone on an
existing sandbox injects the fault into it; faults can be stacked.

Fault scenarios:
`)
	for _, f := range sandbox.Faults() {
		fmt.Fprintf(&b, "  %-17s %s\n", f.Name, wrap(f.Description, 58, 20))
		fmt.Fprintf(&b, "  %-17s %s\n", "", wrap("caught by: "+strings.Join(f.Checks, ", "), 58, 20))
	}
	b.WriteString(`
Exit codes: 0 created or injected; 1 refused (not a sandbox, sandbox exists
without --force) or failed; 2 usage error; 130 interrupted.
`)
	return b.String()
}

// wrap folds s to width columns, indenting continuation lines.
func wrap(s string, width, indent int) string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(s) {
		if line != "" && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line = w
			continue
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	lines = append(lines, line)
	return strings.Join(lines, "\n"+strings.Repeat(" ", indent))
}

func runDemo(ctx context.Context, iox *IO, args []string) error {
	var root string
	var trades int
	var seed int64
	var faults []string
	var force bool
	fs := newFlagSet("demo", demoUsage(), iox)
	fs.StringVar(&root, "root", "", "where to create the sandbox (required)")
	fs.IntVar(&trades, "trades", sandbox.DefaultTrades, "number of trades")
	fs.Int64Var(&seed, "seed", 1, "random seed (same seed, same sandbox)")
	fs.StringSliceVar(&faults, "fault", nil, "fault scenario(s) to inject (see above)")
	fs.BoolVar(&force, "force", false, "recreate an existing sandbox")
	var secondary string
	fs.StringVar(&secondary, "secondary", "", "also create a standby secondary sandbox here")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("demo: unexpected argument %q (run 'drbook demo --help')", fs.Arg(0))
	}
	if root == "" {
		return usageErr("demo: --root DIR is required (run 'drbook demo --help')")
	}
	if fi, err := os.Stat(root); err == nil && !fi.IsDir() {
		return usageErr("demo: --root %s is a file, not a directory: name a new or empty directory, or a sandbox", root)
	}
	if trades < sandbox.MinTrades {
		return usageErr("demo: --trades %d: at least %d", trades, sandbox.MinTrades)
	}
	for _, f := range faults {
		if _, ok := sandbox.LookupFault(f); !ok {
			var names []string
			for _, f := range sandbox.Faults() {
				names = append(names, f.Name)
			}
			return usageErr("demo: unknown fault %q (known: %s)", f, strings.Join(names, ", "))
		}
	}
	if secondary != "" {
		if len(faults) > 0 {
			return usageErr("demo: --secondary creates a healthy standby: inject faults with a separate 'drbook demo --root DIR --fault NAME'")
		}
		a, _ := filepath.Abs(root)
		b, _ := filepath.Abs(secondary)
		if a == b || strings.HasPrefix(b, a+string(filepath.Separator)) || strings.HasPrefix(a, b+string(filepath.Separator)) {
			return usageErr("demo: --secondary %s and --root %s overlap: name two separate directories", secondary, root)
		}
		if fi, err := os.Stat(secondary); err == nil && !fi.IsDir() {
			return usageErr("demo: --secondary %s is a file, not a directory", secondary)
		}
	}
	create := true
	if sandbox.IsSandbox(root) && !force {
		if len(faults) == 0 {
			return failed(fmt.Errorf("demo: %s is already a sandbox; use --force to recreate it or --fault to break it", root))
		}
		if fs.Changed("trades") || fs.Changed("seed") {
			fmt.Fprintf(iox.Stderr, "demo: %s is an existing sandbox: --trades and --seed ignored (use --force to recreate)\n", root)
		}
		create = false
	}
	// A stack of faults goes in whole or not at all: refuse one that
	// cannot follow another before the first changes anything.
	var done []string
	dbGone := false
	if !create {
		m, err := sandbox.ReadMarker(root)
		if err != nil {
			return failed(fmt.Errorf("demo: %w", err))
		}
		done = m.Faults
		_, err = os.Stat(filepath.Join(root, sandbox.DBFile))
		dbGone = errors.Is(err, os.ErrNotExist)
	}
	if err := sandbox.CheckFaults(done, dbGone, faults); err != nil {
		return usageErr("demo: %w", err)
	}
	if create {
		opts := sandbox.Options{Trades: trades, Seed: seed, Replace: force}
		if trades >= 200000 {
			last := time.Now()
			opts.Progress = func(done, total int) {
				if time.Since(last) > 2*time.Second || done == total {
					last = time.Now()
					fmt.Fprintf(iox.Stderr, "demo: %d/%d trades\n", done, total)
				}
			}
		}
		start := time.Now()
		if err := sandbox.Create(ctx, root, opts); err != nil {
			if errors.Is(err, context.Canceled) {
				return err
			}
			return failed(err)
		}
		size := int64(0)
		if fi, err := os.Stat(filepath.Join(root, sandbox.DBFile)); err == nil {
			size = fi.Size()
		}
		fmt.Fprintf(iox.Stdout, "created sandbox %s: %d trades, seed %d, data/quantai.db %s, in %s\n",
			root, trades, seed, backup.FormatSize(size), time.Since(start).Round(time.Millisecond))
		if secondary != "" {
			if err := sandbox.Create(ctx, secondary, sandbox.Options{Trades: trades, Seed: seed, Replace: force}); err != nil {
				if errors.Is(err, context.Canceled) {
					return err
				}
				return failed(fmt.Errorf("demo: secondary: %w", err))
			}
			fmt.Fprintf(iox.Stdout, "created secondary sandbox %s: keep it warm with 'drbook standby sync --root %s'\n", secondary, secondary)
		}
	}
	for _, name := range faults {
		if err := sandbox.Inject(root, name); err != nil {
			return failed(err)
		}
		f, _ := sandbox.LookupFault(name)
		fmt.Fprintf(iox.Stdout, "injected %s: %s\n", name, f.Description)
	}
	return nil
}
