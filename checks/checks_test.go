package checks_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/drbook/drbook/checks"
	"github.com/drbook/drbook/steps"
	"github.com/drbook/drbook/steps/sandbox"
)

var now = time.Date(2026, 3, 13, 20, 0, 0, 0, time.UTC)

// freshBackups is a catalogue holding one verified backup five minutes old.
func freshBackups(context.Context) ([]checks.BackupInfo, error) {
	return []checks.BackupInfo{{Name: "b1", Location: "local", Time: now.Add(-5 * time.Minute), Tier: 1, Status: "verified", Counts: true, Size: 1 << 20}}, nil
}

func MustSandbox(tb testing.TB, faults ...string) string {
	tb.Helper()
	root := filepath.Join(tb.TempDir(), "quantai")
	if err := sandbox.Create(context.Background(), root, sandbox.Options{Seed: 1}); err != nil {
		tb.Fatal(err)
	}
	for _, f := range faults {
		if err := sandbox.Inject(root, f); err != nil {
			tb.Fatal(err)
		}
	}
	return root
}

func MustRun(tb testing.TB, opts checks.Options) (checks.Report, []checks.Finding) {
	tb.Helper()
	if opts.Backups == nil {
		opts.Backups = freshBackups
	}
	opts.Now = func() time.Time { return now }
	var streamed []checks.Finding
	rep, err := checks.Run(context.Background(), opts, func(f checks.Finding) { streamed = append(streamed, f) })
	if err != nil {
		tb.Fatal(err)
	}
	return rep, streamed
}

// snapshot maps every file under root to a hash of its bytes and its mode.
func snapshot(tb testing.TB, root string) map[string][32]byte {
	tb.Helper()
	out := map[string][32]byte{}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			tb.Fatal(err)
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			out[rel+"/"] = [32]byte{}
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		out[rel] = sha256.Sum256(b)
		return nil
	})
	return out
}

func assertUnchanged(tb testing.TB, before, after map[string][32]byte) {
	tb.Helper()
	for p, h := range before {
		if g, ok := after[p]; !ok {
			tb.Errorf("%s disappeared", p)
		} else if g != h {
			tb.Errorf("%s changed", p)
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			tb.Errorf("%s appeared", p)
		}
	}
}

// TestFaultsAreCaughtByTheirChecks is the acceptance test: a clean
// sandbox passes every check, and each fault scenario is caught by exactly
// the checks it targets (fail, or warn for pending-orders) while the
// others pass; and the checks change no byte of the tree.
func TestFaultsAreCaughtByTheirChecks(t *testing.T) {
	all := checks.Names()
	tests := []struct {
		fault string
		want  map[string]checks.Status // checks not listed must pass
	}{
		{"", nil},
		{"corrupt-db", map[string]checks.Status{checks.DBIntegrity: checks.Fail}},
		{"torn-page", map[string]checks.Status{checks.DBIntegrity: checks.Fail, checks.DataValidation: checks.Fail}},
		{"delete-db", map[string]checks.Status{checks.DBIntegrity: checks.Fail, checks.CriticalTables: checks.Fail, checks.DataValidation: checks.Fail}},
		{"stale-wal", map[string]checks.Status{checks.DBIntegrity: checks.Fail, checks.CriticalTables: checks.Fail, checks.DataValidation: checks.Fail}},
		{"bad-config", map[string]checks.Status{checks.Config: checks.Fail}},
		{"missing-env", map[string]checks.Status{checks.Config: checks.Fail}},
		{"orphan-trades", map[string]checks.Status{checks.DataValidation: checks.Fail}},
		{"negative-balance", map[string]checks.Status{checks.DataValidation: checks.Fail}},
		{"audit-gap", map[string]checks.Status{checks.DataValidation: checks.Fail}},
		{"position-drift", map[string]checks.Status{checks.DataValidation: checks.Fail}},
		{"pending-orders", map[string]checks.Status{checks.DataValidation: checks.Warn}},
		{"agent-down", map[string]checks.Status{checks.Config: checks.Fail}},
		{"host-lost", map[string]checks.Status{checks.DBIntegrity: checks.Fail, checks.CriticalTables: checks.Fail, checks.DataValidation: checks.Fail, checks.Config: checks.Fail}},
	}
	covered := map[string]bool{}
	for _, tt := range tests {
		covered[tt.fault] = true
	}
	for _, f := range sandbox.Faults() {
		if !covered[f.Name] {
			t.Errorf("fault %s is not in the table", f.Name)
		}
	}
	for _, tt := range tests {
		name := tt.fault
		if name == "" {
			name = "clean"
		}
		t.Run(name, func(t *testing.T) {
			var root string
			if tt.fault == "" {
				root = MustSandbox(t)
			} else {
				root = MustSandbox(t, tt.fault)
				f, _ := sandbox.LookupFault(tt.fault)
				var targets []string
				for c := range tt.want {
					targets = append(targets, c)
				}
				slices.Sort(targets)
				got := slices.Sorted(slices.Values(f.Checks))
				if !slices.Equal(targets, got) {
					t.Errorf("sandbox.Faults says %s is caught by %v; this table says %v", tt.fault, got, targets)
				}
			}
			before := snapshot(t, root)
			rep, streamed := MustRun(t, checks.Options{Root: root})
			assertUnchanged(t, before, snapshot(t, root))
			if len(streamed) != len(rep.Findings) {
				t.Errorf("streamed %d findings, report has %d", len(streamed), len(rep.Findings))
			}
			for _, c := range all {
				res, ok := rep.Check(c)
				if !ok {
					t.Fatalf("no result for %s", c)
				}
				want := checks.Pass
				if s, ok := tt.want[c]; ok {
					want = s
				}
				if res.Status != want {
					t.Errorf("%s: %s, want %s", c, res.Status, want)
					for _, f := range rep.Findings {
						if f.Check == c && f.Status != checks.Pass {
							t.Logf("  %s", checks.Line(f))
						}
					}
				}
			}
			if wantFail := slices.Contains(slices.Collect(func(yield func(checks.Status) bool) {
				for _, s := range tt.want {
					yield(s)
				}
			}), checks.Fail); rep.Failed() != wantFail {
				t.Errorf("Failed() = %v, want %v", rep.Failed(), wantFail)
			}
		})
	}
}

func findings(rep checks.Report, check, item string) []checks.Finding {
	var out []checks.Finding
	for _, f := range rep.Findings {
		if f.Check == check && (item == "" || f.Item == item) {
			out = append(out, f)
		}
	}
	return out
}

func TestEvidence(t *testing.T) {
	tests := []struct {
		fault, check, item, inMessage string
		wantRows                      bool
	}{
		{"corrupt-db", checks.DBIntegrity, "file", "stray bytes", false},
		{"torn-page", checks.DBIntegrity, "quick_check", "malformed", false},
		{"orphan-trades", checks.DataValidation, "orphaned-trades", "missing position", true},
		{"negative-balance", checks.DataValidation, "negative-balances", "negative balance", true},
		{"audit-gap", checks.DataValidation, "audit-gaps", "1 gap in", true},
		{"position-drift", checks.DataValidation, "positions-vs-trades", "1 position differs", true},
		{"pending-orders", checks.DataValidation, "pending-trades", "2 pending", true},
		{"bad-config", checks.Config, "agents", "risk_manager.json", true},
		{"missing-env", checks.Config, "env", "ALPACA_API_KEY", true},
		{"delete-db", checks.DBIntegrity, "file", "does not exist", false},
	}
	for _, tt := range tests {
		t.Run(tt.fault, func(t *testing.T) {
			rep, _ := MustRun(t, checks.Options{Root: MustSandbox(t, tt.fault), Only: []string{tt.check}})
			fs := findings(rep, tt.check, tt.item)
			if len(fs) != 1 {
				t.Fatalf("%d findings for %s/%s: %+v", len(fs), tt.check, tt.item, rep.Findings)
			}
			f := fs[0]
			if f.Status == checks.Pass || !strings.Contains(f.Message, tt.inMessage) {
				t.Errorf("finding %q, want a problem mentioning %q", checks.Line(f), tt.inMessage)
			}
			if tt.wantRows && (f.Evidence == nil || len(f.Evidence.Rows) == 0 || f.Evidence.Count == 0) {
				t.Errorf("finding %q carries no offending rows", checks.Line(f))
			}
		})
	}
}

func TestEnvValuesAreNeverReported(t *testing.T) {
	root := MustSandbox(t, "missing-env")
	env, _ := os.ReadFile(filepath.Join(root, ".env"))
	rep, _ := MustRun(t, checks.Options{Root: root})
	out, _ := json.Marshal(rep)
	looked := 0
	for k, v := range checks.ParseEnv(env) {
		if len(v) > 6 {
			looked++
			if strings.Contains(string(out), v) {
				t.Errorf("the value of %s appears in the report", k)
			}
		}
	}
	if looked < 3 {
		t.Errorf("only %d .env values to look for: the test proves nothing", looked)
	}
}

func TestNotADatabase(t *testing.T) {
	root := MustSandbox(t)
	db := filepath.Join(root, "data", "quantai.db")
	for name, content := range map[string][]byte{
		"text":  []byte("this is not a database, it is a note\n"),
		"empty": nil,
		"short": []byte("SQLite format 3\x00"),
	} {
		t.Run(name, func(t *testing.T) {
			os.WriteFile(db, content, 0o644)
			before := snapshot(t, root)
			rep, _ := MustRun(t, checks.Options{Root: root})
			assertUnchanged(t, before, snapshot(t, root))
			for _, c := range []string{checks.DBIntegrity, checks.CriticalTables, checks.DataValidation} {
				fs := findings(rep, c, "")
				if len(fs) != 1 || fs[0].Status != checks.Fail || !strings.HasPrefix(fs[0].Message, "data/quantai.db is not a SQLite database (") ||
					strings.Count(fs[0].Message, "not a SQLite database") != 1 {
					t.Errorf("%s: %+v, want one failure saying it is not a SQLite database", c, fs)
				}
			}
		})
	}
}

// openWriter opens the sandbox database like the running system would, with
// automatic checkpoints off so committed changes stay in the WAL.
func openWriter(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=wal_autocheckpoint(0)")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec("UPDATE accounts SET balance = -1 WHERE account_type = 'cash'"); err != nil {
		t.Fatal(err)
	}
	return db
}

// TestLiveWAL: a running system (here the real sqlite3 binary, another
// process, holding the database open) has committed changes in its WAL and
// a live -shm. The checks must see those changes, share the wal-index
// without a warning, and change neither the database nor its WAL.
func TestLiveWAL(t *testing.T) {
	bin, err := exec.LookPath("sqlite3")
	if err != nil {
		t.Skip("sqlite3 not installed")
	}
	root := MustSandbox(t)
	path := filepath.Join(root, "data", "quantai.db")
	cmd := exec.Command(bin, path)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); cmd.Wait() }()
	io.WriteString(stdin, ".bail on\nPRAGMA wal_autocheckpoint=0;\nUPDATE accounts SET balance = -1 WHERE account_type = 'cash';\nSELECT 'ready';\n")
	br := bufio.NewReader(stdout)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("sqlite3 writer: %q %v", line, err)
		}
		if strings.TrimSpace(line) == "ready" {
			break
		}
	}
	files := func() []string {
		m, _ := filepath.Glob(path + "*")
		return m
	}
	before := files()
	if len(before) != 3 {
		t.Fatalf("the live system should have db, -wal and -shm: %v", before)
	}
	dbBefore, _ := os.ReadFile(path)
	walBefore, _ := os.ReadFile(path + "-wal")
	rep, _ := MustRun(t, checks.Options{Root: root, Only: []string{checks.DBIntegrity, checks.DataValidation}})
	if f := findings(rep, checks.DataValidation, "negative-balances"); len(f) != 1 || f[0].Status != checks.Fail || f[0].Evidence.Count != 2 {
		t.Errorf("negative-balances = %+v: the WAL's committed change was not seen", f)
	}
	if s, _ := rep.Check(checks.DBIntegrity); s.Status != checks.Pass {
		t.Errorf("db-integrity on a live WAL database: %s %+v", s.Status, findings(rep, checks.DBIntegrity, "file"))
	}
	dbAfter, _ := os.ReadFile(path)
	walAfter, _ := os.ReadFile(path + "-wal")
	if string(dbBefore) != string(dbAfter) || string(walBefore) != string(walAfter) {
		t.Error("checks changed the database or its WAL")
	}
	if after := files(); !slices.Equal(before, after) {
		t.Errorf("files before %v, after %v", before, after)
	}
}

// TestLeftoverSHM: a crash can leave a -shm nobody holds next to the WAL. A
// reader sharing it would rewrite it; the checks read the WAL privately and
// leave every byte, -shm included, as it was.
func TestLeftoverSHM(t *testing.T) {
	root := MustSandbox(t)
	path := filepath.Join(root, "data", "quantai.db")
	w := openWriter(t, path)
	db, _ := os.ReadFile(path)
	wal, _ := os.ReadFile(path + "-wal")
	shm, _ := os.ReadFile(path + "-shm")
	w.Close()
	os.WriteFile(path, db, 0o644)
	os.WriteFile(path+"-wal", wal, 0o644)
	os.WriteFile(path+"-shm", shm, 0o644)

	before := snapshot(t, root)
	rep, _ := MustRun(t, checks.Options{Root: root})
	assertUnchanged(t, before, snapshot(t, root))
	if f := findings(rep, checks.DataValidation, "negative-balances"); len(f) != 1 || f[0].Status != checks.Fail {
		t.Errorf("negative-balances = %+v: the WAL's committed change was not seen", f)
	}
}

// TestCrashedWAL: a system that died leaves a WAL with committed frames and
// no -shm. The checks read the frames without creating a -shm.
func TestCrashedWAL(t *testing.T) {
	root := MustSandbox(t)
	path := filepath.Join(root, "data", "quantai.db")
	w := openWriter(t, path)
	db, _ := os.ReadFile(path)
	wal, _ := os.ReadFile(path + "-wal")
	w.Close()
	// The crash: the files as they were while the system ran, without -shm.
	os.Remove(path + "-wal")
	os.Remove(path + "-shm")
	os.WriteFile(path, db, 0o644)
	os.WriteFile(path+"-wal", wal, 0o644)

	before := snapshot(t, root)
	rep, _ := MustRun(t, checks.Options{Root: root})
	assertUnchanged(t, before, snapshot(t, root))
	if f := findings(rep, checks.DataValidation, "negative-balances"); len(f) != 1 || f[0].Status != checks.Fail {
		t.Errorf("negative-balances = %+v: the WAL's committed change was not seen", f)
	}
	if f := findings(rep, checks.DBIntegrity, "file"); len(f) != 1 || f[0].Status != checks.Warn {
		t.Errorf("file finding = %+v, want a warning about the WAL left behind", f)
	}
}

func TestBackupFreshness(t *testing.T) {
	root := t.TempDir()
	list := func(bs ...checks.BackupInfo) checks.BackupsFunc {
		return func(context.Context) ([]checks.BackupInfo, error) { return bs, nil }
	}
	tests := []struct {
		name    string
		backups checks.BackupsFunc
		want    checks.Status
		msg     string
	}{
		{"no catalogue", nil, checks.Warn, "no backup catalogue"},
		{"catalogue error", func(context.Context) ([]checks.BackupInfo, error) { return nil, errors.New("s3: access denied") }, checks.Fail, "access denied"},
		{"no backups", list(), checks.Fail, "no backups exist"},
		{"fresh", list(checks.BackupInfo{Name: "a", Location: "local", Tier: 1, Time: now.Add(-10 * time.Minute), Status: "verified", Counts: true}), checks.Pass, "within the RPO"},
		{"stale", list(checks.BackupInfo{Name: "a", Location: "local", Tier: 1, Time: now.Add(-40 * time.Minute), Status: "verified", Counts: true}), checks.Fail, "older than the RPO"},
		{"unverified only", list(checks.BackupInfo{Name: "a", Location: "local", Tier: 1, Time: now.Add(-1 * time.Minute)}), checks.Fail, "1 backup but none verified"},
		{"damaged only", list(checks.BackupInfo{Name: "a", Location: "local", Tier: 1, Time: now.Add(-1 * time.Minute), Status: "damaged-source", Problem: "integrity_check: page 7"}),
			checks.Fail, "none verified: the newest, a, is damaged-source: integrity_check: page 7"},
		{"fresh, newer damaged", list(
			checks.BackupInfo{Name: "a", Location: "local", Tier: 1, Time: now.Add(-10 * time.Minute), Status: "verified", Counts: true},
			checks.BackupInfo{Name: "b", Location: "local", Tier: 1, Time: now.Add(-1 * time.Minute), Status: "damaged-source", Problem: "empty"}),
			checks.Warn, "newest verified backup a (local) is 10m old, within the RPO of 15m; 1 newer backup does not count: b is damaged-source: empty"},
		{"stale, newer failed its restore test", list(
			checks.BackupInfo{Name: "a", Location: "local", Tier: 1, Time: now.Add(-40 * time.Minute), Status: "verified", Counts: true},
			checks.BackupInfo{Name: "b", Location: "local", Tier: 1, Time: now.Add(-1 * time.Minute), Status: "restore-test-failed"}),
			checks.Fail, "older than the RPO of 15m; 1 newer backup does not count: b is restore-test-failed"},
		{"fresh local, old s3", list(
			checks.BackupInfo{Name: "a", Location: "local", Tier: 1, Time: now.Add(-3 * time.Minute), Status: "verified", Counts: true},
			checks.BackupInfo{Name: "b", Location: "s3", Tier: 1, Time: now.Add(-50 * time.Hour), Status: "verified", Counts: true}), checks.Warn, "1 tier or location behind its schedule"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := checks.Options{Root: root, Only: []string{checks.BackupFreshness}, Backups: tt.backups, Now: func() time.Time { return now }}
			if tt.backups == nil {
				opts.Backups = nil
			}
			rep, err := checks.Run(context.Background(), opts, nil)
			if err != nil {
				t.Fatal(err)
			}
			res, _ := rep.Check(checks.BackupFreshness)
			var msgs []string
			for _, f := range rep.Findings {
				msgs = append(msgs, f.Message)
			}
			if res.Status != tt.want || !strings.Contains(strings.Join(msgs, "; "), tt.msg) {
				t.Errorf("%s: %v, want %s mentioning %q", res.Status, msgs, tt.want, tt.msg)
			}
		})
	}
}

func TestRunOptions(t *testing.T) {
	root := MustSandbox(t)
	if _, err := checks.Run(context.Background(), checks.Options{Root: root, Only: []string{"nope"}}, nil); !errors.Is(err, checks.ErrUnknownCheck) {
		t.Errorf("unknown check: %v", err)
	}
	rep, _ := MustRun(t, checks.Options{Root: root, Only: []string{checks.Config, checks.DBIntegrity}, Full: true})
	if len(rep.Checks) != 2 || rep.Checks[0].Name != checks.DBIntegrity || rep.Checks[1].Name != checks.Config {
		t.Errorf("checks = %+v, want db-integrity then config", rep.Checks)
	}
	if f := findings(rep, checks.DBIntegrity, "integrity_check"); len(f) != 1 || f[0].Status != checks.Pass {
		t.Errorf("--full did not run integrity_check: %+v", rep.Findings)
	}
	for mmap, want := range map[int64]string{0: "2147418112", -1: "0", 1 << 20: "1048576"} {
		rep, _ := MustRun(t, checks.Options{Root: root, Only: []string{checks.DBIntegrity, checks.DataValidation}, MmapSize: mmap})
		f := findings(rep, checks.DBIntegrity, "file")
		if rep.Failed() || len(f) != 1 || f[0].Evidence.Facts["mmap_size"] != want {
			t.Errorf("MmapSize %d: %+v", mmap, rep.Findings)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := checks.Run(ctx, checks.Options{Root: root}, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled run: %v", err)
	}
}

func TestReportJSON(t *testing.T) {
	rep, _ := MustRun(t, checks.Options{Root: MustSandbox(t, "audit-gap")})
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Status string `json:"status"`
		Checks []struct {
			Name, Status string
		} `json:"checks"`
		Findings []checks.Finding `json:"findings"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Status != "fail" || len(doc.Checks) != len(checks.Names()) || len(doc.Findings) != len(rep.Findings) {
		t.Errorf("JSON report: %s", b)
	}
	for _, f := range doc.Findings {
		if f.Check == checks.DataValidation && f.Item == "audit-gaps" && (f.Evidence == nil || f.Evidence.Count != 1 || len(f.Evidence.Rows) != 1) {
			t.Errorf("audit-gaps evidence lost in JSON: %+v", f.Evidence)
		}
	}
}

func TestActions(t *testing.T) {
	tests := []struct {
		action, fault string
		want          steps.Status
	}{
		{"integrity-check", "", steps.StatusOK},
		{"integrity-check", "torn-page", steps.StatusFailed},
		{"validate-data", "", steps.StatusOK},
		{"validate-data", "negative-balance", steps.StatusFailed},
		{"validate-data", "pending-orders", steps.StatusOK},
		{"validate-config", "", steps.StatusOK},
		{"validate-config", "bad-config", steps.StatusFailed},
	}
	for _, tt := range tests {
		t.Run(tt.action+"/"+tt.fault, func(t *testing.T) {
			var faults []string
			if tt.fault != "" {
				faults = []string{tt.fault}
			}
			root := MustSandbox(t, faults...)
			if !steps.Implemented(tt.action) {
				t.Fatalf("%s is not registered", tt.action)
			}
			a, _ := steps.Lookup(tt.action)
			var lines []string
			res, err := a.Run(context.Background(), steps.Request{Env: steps.Env{Root: root, Drill: true}}, func(e steps.Event) {
				if e.Stream == steps.Info {
					lines = append(lines, e.Line)
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			rep, ok := res.Data.(checks.Report)
			if res.Status != tt.want || !ok || len(lines) != len(rep.Findings) || len(lines) == 0 {
				t.Errorf("status %s (want %s), %d lines, data %T: %s", res.Status, tt.want, len(lines), res.Data, res.Summary)
			}
		})
	}
}

func TestParseEnv(t *testing.T) {
	long := strings.Repeat("x", 2<<20) // past bufio.Scanner's limits
	src := "\ufeffOPENAI_API_KEY=sk-1\r\n" +
		"# a comment\r\n" +
		"\n" +
		"export IBKR_HOST=127.0.0.1\n" +
		"export\tIBKR_PORT = \"7497\"\n" +
		"exporter=yes\n" +
		"LONG=" + long + "\n" +
		"=no key\n" +
		"no equals sign\n" +
		"QUOTED='a b'\n" +
		"MISMATCHED=\"a'\n" +
		"OPENAI_API_KEY=sk-2\n" +
		"LAST=1"
	want := []checks.EnvVar{
		{"OPENAI_API_KEY", "sk-1", 1}, {"IBKR_HOST", "127.0.0.1", 4}, {"IBKR_PORT", "7497", 5}, {"exporter", "yes", 6},
		{"LONG", long, 7}, {"QUOTED", "a b", 10}, {"MISMATCHED", "\"a'", 11}, {"OPENAI_API_KEY", "sk-2", 12}, {"LAST", "1", 13},
	}
	got := checks.ParseEnvVars([]byte(src))
	if !slices.Equal(got, want) {
		for i := range max(len(got), len(want)) {
			var g, w checks.EnvVar
			if i < len(got) {
				g = got[i]
			}
			if i < len(want) {
				w = want[i]
			}
			if g != w {
				t.Errorf("var %d: got %s=%.20q line %d, want %s=%.20q line %d", i, g.Key, g.Value, g.Line, w.Key, w.Value, w.Line)
			}
		}
	}
	env := checks.ParseEnv([]byte(src))
	if env["OPENAI_API_KEY"] != "sk-2" || env["LAST"] != "1" || len(env) != 8 {
		t.Errorf("ParseEnv: the later line must win and every key be there: %d keys, OPENAI_API_KEY=%q", len(env), env["OPENAI_API_KEY"])
	}

	dir := t.TempDir()
	p := filepath.Join(dir, ".env")
	if err := os.WriteFile(p, []byte(strings.Replace(src, long, "short", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if m, err := checks.ReadEnv(p); err != nil || m["IBKR_PORT"] != "7497" || len(m) != 8 {
		t.Errorf("ReadEnv: %v, %d keys", err, len(m))
	}
	if _, err := checks.ReadEnv(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadEnv(missing) = %v, want fs.ErrNotExist", err)
	}
	if _, err := checks.ReadEnv(dir); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("ReadEnv(directory) = %v", err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// Refused before it is opened: opening a FIFO blocks until someone
	// writes, and no signal interrupts the wait. (The 30 s only guards
	// against hanging the suite.)
	done := make(chan error, 1)
	go func() { _, err := checks.ReadEnv(fifo); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("ReadEnv(FIFO) = %v", err)
		}
	case <-time.After(30 * time.Second):
		if f, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
			f.Close()
		}
		t.Fatal("ReadEnv blocked opening a FIFO")
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, []byte("A="+strings.Repeat("x", checks.MaxEnvSize)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := checks.ReadEnv(big); err == nil || !strings.Contains(err.Error(), "not a .env file") {
		t.Errorf("ReadEnv(over the limit) = %v", err)
	}
}

func TestInspectDB(t *testing.T) {
	good := filepath.Join(MustSandbox(t), "data", "quantai.db")
	if err := checks.InspectDB(good); err != nil {
		t.Fatalf("a clean sandbox: %v", err)
	}
	corrupt := filepath.Join(MustSandbox(t, "corrupt-db"), "data", "quantai.db")
	dir := t.TempDir()
	text := filepath.Join(dir, "text.db")
	if err := os.WriteFile(text, []byte("not a database at all, just some words to fill a header"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		want error
		msg  string
	}{
		{corrupt, checks.ErrDamagedDatabase, "stray bytes"},
		{text, checks.ErrNotDatabase, "shorter than a database header"},
		{filepath.Join(dir, "missing.db"), checks.ErrNoDatabase, "does not exist"},
		{dir, checks.ErrNotDatabase, "not a regular file"},
	} {
		err := checks.InspectDB(tc.path)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("InspectDB(%s) = %v, want %v mentioning %q", filepath.Base(tc.path), err, tc.want, tc.msg)
		}
	}
	if _, err := os.Stat(good + "-wal"); err == nil {
		t.Error("InspectDB left a -wal")
	}
}
