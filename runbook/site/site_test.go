package site_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drbook/drbook/runbook/site"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func mustWrite(tb testing.TB, path, data string, mode os.FileMode) string {
	tb.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		tb.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		tb.Fatal(err)
	}
	return path
}

func TestLocateOrder(t *testing.T) {
	dir := t.TempDir()
	xdg := filepath.Join(dir, "xdg")
	mustWrite(t, filepath.Join(xdg, "drbook", "drbook.yaml"), "system: {root: /x}\n", 0o644)
	for _, tc := range []struct {
		name, flag string
		env        map[string]string
		want, src  string
	}{
		{"flag wins", "/f.yaml", map[string]string{"DRBOOK_CONFIG": "/e.yaml", "XDG_CONFIG_HOME": xdg}, "/f.yaml", "flag"},
		{"env next", "", map[string]string{"DRBOOK_CONFIG": "/e.yaml", "XDG_CONFIG_HOME": xdg}, "/e.yaml", "env"},
		{"xdg", "", map[string]string{"XDG_CONFIG_HOME": xdg}, filepath.Join(xdg, "drbook", "drbook.yaml"), "default"},
		{"home", "", map[string]string{"HOME": dir + "/nohome"}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, src := site.Locate(tc.flag, env(tc.env))
			if tc.want == "" {
				// /etc/drbook/drbook.yaml may exist on a host; only check that
				// the missing home file was not chosen.
				if strings.Contains(got, "nohome") {
					t.Fatalf("chose a missing file %s", got)
				}
				return
			}
			if got != tc.want || src != tc.src {
				t.Fatalf("Locate = %q, %q; want %q, %q", got, src, tc.want, tc.src)
			}
		})
	}
}

func TestLoadNamedFileMustExist(t *testing.T) {
	_, err := site.Load(filepath.Join(t.TempDir(), "missing.yaml"), env(nil))
	if !errors.Is(err, site.ErrNotFound) || !strings.Contains(err.Error(), "--config") {
		t.Fatalf("err = %v, want ErrNotFound naming --config", err)
	}
	_, err = site.Load("", env(map[string]string{"DRBOOK_CONFIG": "/nonexistent/drbook.yaml"}))
	if !errors.Is(err, site.ErrNotFound) || !strings.Contains(err.Error(), "$DRBOOK_CONFIG") {
		t.Fatalf("err = %v, want ErrNotFound naming $DRBOOK_CONFIG", err)
	}
}

func TestParseErrorsCarryLines(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"system:\n  root: /x\n  live: maybe\n", "3: "},
		{"system: [\n", "1: did not find expected node content"},
		{"system:\n  root: /x\n live: true\n", "2: did not find expected key"},
		{"- a\n- b\n", "1: the configuration must be a mapping"},
	} {
		_, err := site.Parse([]byte(tc.in))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want prefix %q", tc.in, err, tc.want)
		}
	}
	path := mustWrite(t, filepath.Join(t.TempDir(), "c.yaml"), "system:\n  live: maybe\n", 0o644)
	if _, err := site.Read(path); err == nil || !strings.HasPrefix(err.Error(), path+":2: ") {
		t.Fatalf("Read = %v, want %s:2: ...", err, path)
	}
}

var now = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)

const goodContacts = `contacts:
  max_age: 90d
  people:
    - {role: Primary On-Call, name: Ana Ruiz, phone: "+1 212 555 0101", verified: 2026-11-20}
    - {role: Secondary On-Call, name: Ben Okafor, email: ben@quantai.example, verified: 2026-11-20}
    - {role: Technical Lead, name: Chen Li, phone: "+1 212 555 0103", verified: 2026-11-20}
    - {role: Operations Manager, name: Dana Holt, phone: "+1 212 555 0104", verified: 2026-11-20}
    - {role: IBKR Support, name: IBKR Support, phone: "+1-877-442-2757", verified: 2026-11-20}
    - {role: Alpaca Support, name: Alpaca Support, email: support@alpaca.markets, verified: 2026-11-20}
`

func mustParse(tb testing.TB, dir, body string) *site.Config {
	tb.Helper()
	path := mustWrite(tb, filepath.Join(dir, "drbook.yaml"), body, 0o644)
	c, err := site.Read(path)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func problems(c *site.Config, seen site.Verifications) []string {
	var out []string
	for _, p := range c.Check(now, seen) {
		out = append(out, p.String())
	}
	return out
}

func TestCheckGoodConfigHasNoProblems(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "srv")
	mustWrite(t, filepath.Join(root, "data", "quantai.db"), "", 0o644)
	pass := mustWrite(t, filepath.Join(dir, "backup.pass"), "s3cret\n", 0o600)
	if err := os.Mkdir(filepath.Join(dir, "backups"), 0o700); err != nil {
		t.Fatal(err)
	}
	c := mustParse(t, dir, "system: {root: srv, live: true}\nbackup:\n  dirs: [backups]\n  passphrase_file: "+pass+
		"\n  s3: {url: s3://b/p, endpoint: http://127.0.0.1:9000, path_style: true}\nnotify:\n  webhooks: [{name: slack, url_env: SLACK_WEBHOOK_URL}]\n"+goodContacts)
	if ps := problems(c, nil); len(ps) != 0 {
		t.Fatalf("problems on a good configuration:\n%s", strings.Join(ps, "\n"))
	}
	if got := c.Resolve(c.System.Root); got != root {
		t.Fatalf("relative root resolved to %s, want %s (relative to the file)", got, root)
	}
}

func TestCheckFindsProblemsWithLines(t *testing.T) {
	dir := t.TempDir()
	pass := mustWrite(t, filepath.Join(dir, "backup.pass"), "s3cret\n", 0o644)
	body := "system:\n  root: " + dir + "/nope\n  live: true\n" + // 1-3
		"backup:\n  dirz: [x]\n  passphrase_file: " + pass + "\n" + // 4-6
		"  s3: {url: https://bucket/x}\n" + // 7
		"notify:\n  webhooks:\n    - {name: slack, url_env: https://hooks.slack.com/services/T000/B000/XXXXSECRET}\n" + // 8-10
		"contacts:\n  people:\n    - {role: Primary On-Call, name: \"[Name]\", phone: \"[Phone]\", email: \"[Email]\"}\n" + // 11-13
		"    - {role: Technical Lead, name: Old Timer, phone: \"+1 555\", verified: 2026-01-05}\n" // 14
	c := mustParse(t, dir, body)
	got := strings.Join(problems(c, nil), "\n")
	path := c.Path
	for _, want := range []string{
		path + ":2: system.root " + dir + "/nope: no such file or directory",
		path + `:5: unknown key "dirz" in backup (did you mean "dirs"?)`,
		path + ":6: passphrase file " + pass + " is readable by others (mode 0644) (chmod 600 " + pass + ")",
		path + `:7: backup.s3.url: "https://bucket/x" is not an s3://bucket/prefix URL`,
		path + `:10: webhook "slack": url_env "https://…" is not an environment variable name`,
		path + ":13: contact 1 (Primary On-Call): name is a placeholder ([Name])",
		path + ":13: contact 1 (Primary On-Call) cannot be reached: no phone and no email",
		path + ":14: warning: Old Timer last verified 2026-01-05, 331 days ago (older than 90 days)",
		`no contact holds the role "Operations Manager"`,
		`no contact holds the role "Alpaca Support"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	if strings.Contains(got, "XXXXSECRET") {
		t.Errorf("a problem message repeats the secret webhook URL:\n%s", got)
	}
}

func TestVerificationRecordRefreshesAStaleContact(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	c := mustParse(t, dir, strings.Replace(goodContacts, "verified: 2026-11-20}\n    - {role: Secondary", "verified: 2025-01-01}\n    - {role: Secondary", 1))
	before := problems(c, nil)
	if len(before) != 1 || !strings.Contains(before[0], "Ana Ruiz last verified 2025-01-01") {
		t.Fatalf("before: %q, want one stale warning for Ana Ruiz", before)
	}
	p, err := c.FindContact("primary on-call")
	if err != nil || p.Name != "Ana Ruiz" {
		t.Fatalf("FindContact by role = %+v, %v", p, err)
	}
	if err := site.RecordVerification(state, p.Name, now.Add(-time.Hour), "ops"); err != nil {
		t.Fatal(err)
	}
	seen, err := site.LoadVerifications(state)
	if err != nil {
		t.Fatal(err)
	}
	if after := problems(c, seen); len(after) != 0 {
		t.Fatalf("after verify: %q, want none", after)
	}
	if _, err := c.FindContact("Nobody"); !errors.Is(err, site.ErrUnknownContact) || !strings.Contains(err.Error(), "Ana Ruiz") {
		t.Fatalf("FindContact(Nobody) = %v", err)
	}
	md := c.ContactsMarkdown(now, seen)
	if !strings.Contains(md, "- **Primary On-Call:** Ana Ruiz - +1 212 555 0101 (verified "+now.Add(-time.Hour).Format(time.DateOnly)+")") {
		t.Fatalf("contacts markdown:\n%s", md)
	}
}

func TestInitWritesAFileCheckUnderstands(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "srv")
	mustWrite(t, filepath.Join(root, "data", "quantai.db"), "", 0o644)
	mustWrite(t, filepath.Join(root, ".env"), "IBKR_PASSWORD=hunter22\nSLACK_WEBHOOK_URL=https://hooks.slack.com/services/T/B/SECRETX\n", 0o600)
	mustWrite(t, filepath.Join(root, "brokers", "ibkr_positions.csv"), "Symbol,Quantity\n", 0o644)
	s, err := site.SurveySystem(root)
	if err != nil {
		t.Fatal(err)
	}
	out := site.Init(s)
	if strings.Contains(string(out), "hunter22") || strings.Contains(string(out), "SECRETX") {
		t.Fatalf("init copied a secret value into the file:\n%s", out)
	}
	c := mustParse(t, dir, string(out))
	if c.System.Root != root || !c.System.Live || c.Brokers.IBKR.Statement != filepath.Join(root, "brokers", "ibkr_positions.csv") ||
		len(c.Notify.Webhooks) != 1 || c.Notify.Webhooks[0].URLEnv != "SLACK_WEBHOOK_URL" {
		t.Fatalf("init read back as %+v", c)
	}
	for _, p := range problems(c, nil) {
		if strings.Contains(p, "unknown key") {
			t.Errorf("init wrote a key check does not know: %s", p)
		}
	}
	if got := strings.Join(problems(c, nil), "\n"); !strings.Contains(got, "name is a placeholder ([Name])") {
		t.Errorf("the starting file's placeholder contacts are not flagged:\n%s", got)
	}
}

func TestSettingsSayWhereEachValueIsSet(t *testing.T) {
	dir := t.TempDir()
	c := mustParse(t, dir, "# comment\nsystem:\n  root: /srv/quantai\nbackup:\n  dirs: [/a, /b]\n")
	got := map[string]site.Setting{}
	for _, s := range c.Settings() {
		got[s.Key] = s
	}
	if s := got["system.root"]; s.Value != "/srv/quantai" || s.Source != c.Path+":3" {
		t.Errorf("system.root = %+v", s)
	}
	if s := got["backup.dirs"]; s.Value != "/a, /b" || s.Source != c.Path+":5" {
		t.Errorf("backup.dirs = %+v", s)
	}
	if _, ok := got["system.live"]; ok {
		t.Errorf("an unset false value is listed: %+v", got["system.live"])
	}
}
