package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInitThenConfigThenContacts walks a new site through the commands a
// new user runs: init on a real sandbox, config shows where each value
// comes from, config check lists the template's placeholders, and a
// verified contact list passes.
func TestInitThenConfigThenContacts(t *testing.T) {
	root := actionSandbox(t)
	home := t.TempDir()
	state := t.TempDir()
	env := map[string]string{"HOME": home, "DRBOOK_STATE_DIR": state}

	out, errOut, code := runCLI(t, env, "init", "--root", root)
	cfgFile := filepath.Join(home, ".config", "drbook", "drbook.yaml")
	if code != 0 || !strings.Contains(out, "wrote "+cfgFile) {
		t.Fatalf("init: %d %q %q", code, out, errOut)
	}
	data, err := os.ReadFile(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	envFile, _ := os.ReadFile(filepath.Join(root, ".env"))
	for _, line := range strings.Split(string(envFile), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && (strings.Contains(k, "KEY") || strings.Contains(k, "SECRET")) && strings.Contains(string(data), v) {
			t.Errorf("init copied the .env value %q into the configuration", v)
		}
	}
	// A second init keeps the file.
	if _, errOut, code := runCLI(t, env, "init", "--root", root); code != 2 || !strings.Contains(errOut, "exists") {
		t.Errorf("second init: %d %q", code, errOut)
	}

	// config: found in the default place, root from the file, a flag wins.
	out, _, code = runCLI(t, env, "config", "--json", "--s3", "s3://flagged/x")
	if code != 0 {
		t.Fatalf("config: %d %s", code, out)
	}
	var eff struct {
		File     string
		Found    string `json:"found_by"`
		Settings []struct{ Key, Value, Source string }
	}
	if err := json.Unmarshal([]byte(out), &eff); err != nil {
		t.Fatal(err)
	}
	src := map[string]string{}
	val := map[string]string{}
	for _, s := range eff.Settings {
		src[s.Key], val[s.Key] = s.Source, s.Value
	}
	if eff.File != cfgFile || eff.Found != "default" {
		t.Errorf("file %q found by %q", eff.File, eff.Found)
	}
	if val["system.root"] != root || !strings.HasPrefix(src["system.root"], cfgFile+":") {
		t.Errorf("system.root = %q from %q", val["system.root"], src["system.root"])
	}
	if val["backup.s3.url"] != "s3://flagged/x" || src["backup.s3.url"] != "flag --s3" {
		t.Errorf("backup.s3.url = %q from %q", val["backup.s3.url"], src["backup.s3.url"])
	}
	if val["state.dir"] != state || src["state.dir"] != "env $DRBOOK_STATE_DIR" {
		t.Errorf("state.dir = %q from %q", val["state.dir"], src["state.dir"])
	}

	// config check: the starting file's placeholders are errors with lines.
	out, _, code = runCLI(t, env, "config", "check")
	if code != 1 || !strings.Contains(out, cfgFile+":") || !strings.Contains(out, "is a placeholder ([Name])") {
		t.Errorf("config check on the starting file: %d\n%s", code, out)
	}
	// drbook check on the system: the placeholder contacts are a failing
	// finding of its own.
	out, _, code = runCLI(t, env, "check", "--root", root)
	if code != 1 || !strings.Contains(out, "FAIL  contacts") || !strings.Contains(out, "placeholder") {
		t.Errorf("check with placeholder contacts: %d\n%s", code, out)
	}

	// A filled-in contact list: errors gone, one contact stale until verified.
	filled := strings.NewReplacer(
		`{role: Primary On-Call, name: "[Name]", phone: "[Phone]", email: "[Email]"}`, `{role: Primary On-Call, name: Ana Ruiz, phone: "+1 212 555 0101", verified: 2020-01-01}`,
		`{role: Secondary On-Call, name: "[Name]", phone: "[Phone]", email: "[Email]"}`, `{role: Secondary On-Call, name: Ben Okafor, phone: "+1 212 555 0102"}`,
		`{role: Technical Lead, name: "[Name]", phone: "[Phone]", email: "[Email]"}`, `{role: Technical Lead, name: Chen Li, phone: "+1 212 555 0103"}`,
		`{role: Operations Manager, name: "[Name]", phone: "[Phone]", email: "[Email]"}`, `{role: Operations Manager, name: Dana Holt, phone: "+1 212 555 0104"}`,
	).Replace(string(data))
	if err := os.WriteFile(cfgFile, []byte(filled), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{"Ben Okafor", "Chen Li", "Dana Holt", "IBKR Support", "alpaca support"} {
		if out, errOut, code := runCLI(t, env, "contacts", "verify", who, "--by", "ops"); code != 0 || !strings.Contains(out, "verified") {
			t.Fatalf("contacts verify %s: %d %q %q", who, code, out, errOut)
		}
	}
	out, _, code = runCLI(t, env, "contacts")
	if code != 1 || !strings.Contains(out, "Ana Ruiz last verified 2020-01-01") || strings.Count(out, "warning") != 1 {
		t.Errorf("contacts with one stale entry: %d\n%s", code, out)
	}
	if out, _, code := runCLI(t, env, "config", "check"); code != 0 || !strings.Contains(out, "0 error(s), 2 warning(s)") || !strings.Contains(out, "Ana Ruiz last verified") {
		t.Errorf("config check with a stale contact: %d\n%s", code, out)
	}
	if _, errOut, code := runCLI(t, env, "contacts", "verify", "Nobody"); code != 2 || !strings.Contains(errOut, "Ana Ruiz") {
		t.Errorf("verify an unknown contact: %d %q", code, errOut)
	}
	if out, _, code := runCLI(t, env, "contacts", "verify", "Primary On-Call"); code != 0 || !strings.Contains(out, "Ana Ruiz") {
		t.Errorf("verify by role: %d %q", code, out)
	}
	if out, _, code := runCLI(t, env, "contacts"); code != 0 || strings.Contains(out, "warning") {
		t.Errorf("contacts all verified: %d\n%s", code, out)
	}
}

func TestConfigErrorsAreUsageErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("system:\n  live: maybe\n"), 0o644)
	for _, args := range [][]string{
		{"--config", bad, "config"},
		{"config", "--config", filepath.Join(dir, "missing.yaml")},
		{"--config=", "config"},
	} {
		_, errOut, code := runCLI(t, map[string]string{"HOME": dir}, args...)
		if code != 2 || !strings.HasPrefix(errOut, "drbook: ") {
			t.Errorf("%v: %d %q", args, code, errOut)
		}
	}
	if _, errOut, _ := runCLI(t, map[string]string{"HOME": dir}, "--config", bad, "config"); !strings.Contains(errOut, bad+":2: ") {
		t.Errorf("parse error without FILE:LINE: %q", errOut)
	}
	// A command that needs no configuration runs with a broken one.
	if out, _, code := runCLI(t, map[string]string{"DRBOOK_CONFIG": bad}, "version"); code != 0 || !strings.HasPrefix(out, "drbook ") {
		t.Errorf("version with a broken configuration: %d %q", code, out)
	}
}
