package cli_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/drbook/drbook/ui/cli"
)

// The planted secrets: distinctive values of every kind a leak was found
// with.
const (
	plantIBKRPassword = "Ibkr-Pa55/w0rd+Zq7@2026-long-enough"                                       // long, needs percent-encoding
	plantPIN          = "8842"                                                                      // short
	plantSlackToken   = "zq7XdrbookSlackTokenQ9"                                                    // inside a URL
	plantSlackHook    = "https://hooks.slack.example/services/T0DRB00K/B0DRB00K/" + plantSlackToken // a URL
	plantOddToken     = "Zq9vX2"                                                                    // oddly named key, short
	plantPagerToken   = "pgr-7Hq2Lw9Xk4Vt"                                                          // a secret runbook variable
)

// plantedEnv is appended to the drill sandbox's .env.
const plantedEnv = "IBKR_PASSWORD=" + plantIBKRPassword + "\nBROKER_PIN=" + plantPIN + "\nSLACK_WEBHOOK_URL=" + plantSlackHook +
	"\nX_FOO_TOKEN2=" + plantOddToken + "\nIBKR_CANCEL_COMMAND=grep ^IBKR_PASSWORD= .env; exit 1\n"

// secretsRunbook plants the secrets in the drill's sandbox .env (through
// base64, so the block's text names no value), engages the kill switch
// with an IBKR cancel command that prints the password, and echoes every
// secret, in several encodings, from a shell block.
var secretsRunbook = `---
id: secrets-drill
title: Secrets drill
severity: 2
rto: 4h
rpo: 15m
mtd: 8h
variables:
  - name: PAGER_TOKEN
    prompt: Pager token
    secret: true
---

# Secrets drill

## Immediate Actions (0-15 minutes)

- Plant the secrets

  ` + "```sh {name=plant}" + `
  echo '` + base64.StdEncoding.EncodeToString([]byte(plantedEnv)) + `' | base64 -d >> .env
  echo planted
  ` + "```" + `

- Halt trading

  ` + "```drbook {name=halt confirm=true}" + `
  kill-switch
  mode: on
  brokers: ibkr
  reason: secrets drill
  ` + "```" + `

- Echo the secrets

  ` + "```sh {name=leak}" + `
  urlenc() { local s="$1" i c; for ((i = 0; i < ${#s}; i++)); do c=${s:i:1}; case "$c" in [a-zA-Z0-9.~_-]) printf %s "$c" ;; *) printf '%%%02X' "'$c" ;; esac; done; echo; }
  cat .env
  pw=$(grep '^IBKR_PASSWORD=' .env | cut -d= -f2-)
  hook=$(grep '^SLACK_WEBHOOK_URL=' .env | cut -d= -f2-)
  pin=$(grep '^BROKER_PIN=' .env | cut -d= -f2-)
  echo "url-encoded: $(urlenc "$pw")"
  echo "base64: $(printf %s "$pw" | base64 -w0)"
  echo "token: ${hook##*/}"
  echo "pin: $pin, pin64: $(printf %s "$pin" | base64)"
  echo "pager: $(printf %s "$PAGER_TOKEN" | base64 -w0)"
  echo "pager again: $(echo "$PAGER_TOKEN" | base64 -w0), raw: $PAGER_TOKEN"
  echo "{\"pin\":\"$pin\",\"odd\":\"$(grep '^X_FOO_TOKEN2=' .env | cut -d= -f2-)\"}" >&2
  ` + "```" + `
`

// TestPlantedSecretsNeverLeave plants secrets of every kind in a drill's
// sandbox and a secret variable, runs the drill (kill switch, shell blocks
// echoing them, the report), then greps every export, the raw bytes of the
// state database, data/KILL_SWITCH, 'killswitch status' and everything
// printed for each value and its common encodings.
func TestPlantedSecretsNeverLeave(t *testing.T) {
	books, state, dir := t.TempDir(), t.TempDir(), filepath.Join(t.TempDir(), "drill")
	if err := os.WriteFile(filepath.Join(books, "secrets.md"), []byte(secretsRunbook), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (int, string, string) {
		t.Helper()
		var out, errb bytes.Buffer
		code := cli.Main(context.Background(), args, &cli.IO{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
			Getenv: func(string) string { return "" }})
		return code, out.String(), errb.String()
	}
	captured := map[string]string{}
	code, out, errs := run("drill", "secrets-drill", "--auto", "--json", "--runbooks", books, "--scenario", "none",
		"--state-dir", state, "--dir", dir, "--trades", "200", "--var", "PAGER_TOKEN="+plantPagerToken)
	if code != cli.ExitOK && code != cli.ExitFailure {
		t.Fatalf("drill: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	captured["drill stdout"], captured["drill stderr"] = out, errs
	var res struct {
		ID     string `json:"id"`
		Report string `json:"report"`
	}
	if err := json.Unmarshal([]byte(out[strings.LastIndex(out, "\n{")+1:]), &res); err != nil || res.ID == "" {
		t.Fatalf("drill --json: %v\n%s", err, out)
	}
	b, err := os.ReadFile(res.Report)
	if err != nil {
		t.Fatal(err)
	}
	captured["drill report file"] = string(b)
	for _, args := range [][]string{
		{"timeline", res.ID}, {"timeline", res.ID, "--json"}, {"timeline", res.ID, "--csv"},
		{"report", res.ID}, {"report", res.ID, "--format", "json"},
		{"comms", res.ID, "--template", "notification"}, {"comms", res.ID, "--template", "update", "--json"},
	} {
		code, out, errs := run(append(args, "--state-dir", state)...)
		if code != cli.ExitOK {
			t.Errorf("%v: exit %d: %s", args, code, errs)
		}
		captured[strings.Join(args, " ")] = out + errs
	}
	root := filepath.Join(dir, "sandbox")
	for _, args := range [][]string{{"killswitch", "status", "--root", root}, {"killswitch", "status", "--root", root, "--json"}} {
		_, out, errs := run(args...)
		captured[strings.Join(args, " ")] = out + errs
	}
	flag, err := os.ReadFile(filepath.Join(root, "data", "KILL_SWITCH"))
	if err != nil {
		t.Fatalf("the kill switch did not run: %v", err)
	}
	captured["data/KILL_SWITCH"] = string(flag)
	files, _ := filepath.Glob(filepath.Join(state, "*"))
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil && fi.Mode().IsRegular() {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			captured["state file "+filepath.Base(f)] = string(b)
		}
	}

	// What leaks must be caught in every shape.
	var needles []string
	for _, v := range []string{plantIBKRPassword, plantSlackHook, plantSlackToken, plantPagerToken} {
		needles = append(needles, v, url.QueryEscape(v), url.PathEscape(v))
		for _, s := range []string{v, v + "\n"} {
			for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
				needles = append(needles, enc.EncodeToString([]byte(s)))
			}
		}
		j, _ := json.Marshal(v)
		needles = append(needles, string(j[1:len(j)-1]))
	}
	needles = append(needles, "ODg0Mg==", "ODg0Mgo=") // the PIN's base64
	// Short values: as words (8842 may be part of a hash or a longer number).
	words := []*regexp.Regexp{regexp.MustCompile(`(^|[^0-9A-Za-z])` + plantPIN + `([^0-9A-Za-z]|$)`), regexp.MustCompile(plantOddToken)}
	for name, text := range captured {
		for _, n := range needles {
			if strings.Contains(text, n) {
				t.Errorf("%s contains %q", name, n)
			}
		}
		for _, w := range words {
			if m := w.FindString(text); m != "" {
				t.Errorf("%s contains %q", name, m)
			}
		}
	}

	// And the run really handled them: the record says [REDACTED] where
	// each one was.
	tl := captured["timeline "+res.ID+" --json"]
	for _, want := range []string{"BROKER_PIN=[REDACTED]", "IBKR_PASSWORD=[REDACTED]", "SLACK_WEBHOOK_URL=[REDACTED]", "X_FOO_TOKEN2=[REDACTED]",
		"url-encoded: [REDACTED]", "base64: [REDACTED]", "token: [REDACTED]", "pin: [REDACTED], pin64: [REDACTED]",
		"pager: [REDACTED]", "pager again: [REDACTED], raw: [REDACTED]", "IBKR_HOST=127.0.0.1", "TRADING_MODE=paper"} {
		if !strings.Contains(tl, want) {
			t.Errorf("timeline --json lacks %q", want)
		}
	}
	if !strings.Contains(captured["data/KILL_SWITCH"], "IBKR_PASSWORD=[REDACTED]") {
		t.Errorf("data/KILL_SWITCH lacks the redacted cancel output:\n%s", captured["data/KILL_SWITCH"])
	}
	if !strings.Contains(captured["killswitch status --root "+root], "IBKR_PASSWORD=[REDACTED]") {
		t.Errorf("killswitch status lacks the redacted cancel output:\n%s", captured["killswitch status --root "+root])
	}
}
