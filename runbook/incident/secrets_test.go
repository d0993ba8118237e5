package incident_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/steps"
)

// TestSecretsNeverRecorded runs an incident that handles a secret runbook
// variable, .env values and a passphrase, then scans every export and the
// state database's files for them.
func TestSecretsNeverRecorded(t *testing.T) {
	const (
		dbPassword = "hunter2-very-secret"
		openaiKey  = "sk-live-0123456789abcdef"
		alpacaKey  = "PKALPACA55555"
		passphrase = "correct horse battery staple"
	)
	const (
		sessionID = "sess"                 // short, but its key says secret
		relayPass = "mailpw-42"            // a password inside a URL
		buildRef  = "a9f3c2e1b7d4f6a8c0e2" // no secret-looking key, but looks like a token
	)
	secrets := []string{dbPassword, openaiKey, alpacaKey, passphrase, relayPass, buildRef}
	dir := t.TempDir()
	s, err := incident.OpenStore(dir)
	must(t, err)
	defer s.Close()
	root := t.TempDir()
	env := "OPENAI_API_KEY=" + openaiKey + "\nexport ALPACA_API_KEY=\"" + alpacaKey + "\"\nIBKR_HOST=127.0.0.1\nIBKR_PORT=7497\nTRADING_MODE=paper\nLOG_LEVEL=INFO\n" +
		"DATABASE_PATH=data/quantai.db\nSESSION_ID=" + sessionID + "\nRELAY=smtp://mailer:" + relayPass + "@mail.example:25\nBUILD_REF=" + buildRef + "\n"
	must(t, os.WriteFile(filepath.Join(root, ".env"), []byte(env), 0o600))
	rb := testRunbook()
	rb.Phases[1].Steps[0].Block.Code = `echo "connecting with pw=$DB_PASSWORD"; cat .env; echo "key ` + openaiKey + `" >&2`
	clock := incident.NewManualClock(t0)
	in, err := incident.Declare(ctx, s, rb, incident.DeclareOptions{
		ID: "INC-SECRETS", Root: root, Operator: alice,
		Title:   "OpenAI key " + openaiKey + " leaked?",
		Impact:  "Broker key " + alpacaKey + " must be rotated",
		Vars:    map[string]string{"DB_PASSWORD": dbPassword, "TARGET": "primary"},
		Secrets: []string{passphrase},
	}, clock)
	must(t, err)
	clock.Advance(time.Minute)
	must(t, in.Note("backup passphrase is "+passphrase))
	res, err := in.RunStep(ctx, "assessment/scope", steps.Env{Vars: map[string]string{"DB_PASSWORD": dbPassword}}, false, nil)
	must(t, err)
	if res.Status != steps.StatusOK {
		t.Fatalf("shell step: %+v", res)
	}
	must(t, in.SkipStep("assessment/estimate", "used "+dbPassword+" to log in"))
	_, err = in.RunStep(ctx, "immediate/notify", steps.Env{}, false, nil)
	must(t, err)
	_, err = in.Notify("update", "ops with "+alpacaKey)
	must(t, err)
	clock.Advance(time.Hour)
	must(t, in.Close(incident.StatusResolved, "rotated "+openaiKey))

	evs, err := s.Events(ctx, in.ID())
	must(t, err)
	st, err := s.Load(ctx, in.ID())
	must(t, err)
	exports := map[string][]byte{}
	var b bytes.Buffer
	must(t, incident.WriteTimelineJSON(&b, evs))
	exports["timeline.json"] = bytes.Clone(b.Bytes())
	b.Reset()
	must(t, incident.WriteTimelineCSV(&b, evs))
	exports["timeline.csv"] = bytes.Clone(b.Bytes())
	b.Reset()
	must(t, incident.WriteTimelineText(&b, evs))
	exports["timeline.txt"] = bytes.Clone(b.Bytes())
	// The text timeline wraps at 80 columns: scan it unwrapped too, so a
	// secret with spaces cannot hide across a line break.
	exports["timeline.txt unwrapped"] = []byte(strings.Join(strings.Fields(b.String()), " "))
	r := incident.BuildReport(st, evs, in.Now())
	b.Reset()
	must(t, r.Markdown(&b))
	exports["report.md"] = bytes.Clone(b.Bytes())
	b.Reset()
	must(t, r.JSON(&b))
	exports["report.json"] = bytes.Clone(b.Bytes())
	for _, tmpl := range incident.Templates {
		m, err := incident.Comms(st, tmpl, in.Now())
		must(t, err)
		exports["comms-"+tmpl] = []byte(m.Subject + m.Body)
	}
	for _, run := range st.Runs {
		exports["output of "+run.Step] = []byte(run.Output + run.Summary + run.Error)
	}
	s.Close() // checkpoint nothing away: scan the files as they are
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		must(t, err)
		exports[filepath.Base(f)] = data
	}
	for name, data := range exports {
		for _, sec := range secrets {
			if bytes.Contains(data, []byte(sec)) {
				t.Errorf("%s contains the secret %q", name, sec)
			}
		}
	}
	tl := string(exports["timeline.txt unwrapped"])
	for _, want := range []string{"OpenAI key [REDACTED] leaked?", "backup passphrase is [REDACTED]", "used [REDACTED] to log in", "rotated [REDACTED]"} {
		if !strings.Contains(tl, want) {
			t.Errorf("timeline lacks %q", want)
		}
	}
	out := string(exports["output of assessment/scope"])
	if !strings.Contains(out, "pw=[REDACTED]") || !strings.Contains(out, "OPENAI_API_KEY=[REDACTED]") || !strings.Contains(out, "TRADING_MODE=paper") ||
		!strings.Contains(out, "IBKR_HOST=127.0.0.1") || !strings.Contains(out, "IBKR_PORT=7497") || !strings.Contains(out, "LOG_LEVEL=INFO") ||
		!strings.Contains(out, "DATABASE_PATH=data/quantai.db") || !strings.Contains(out, "SESSION_ID=[REDACTED]") {
		t.Errorf("shell output not redacted as expected:\n%s", out)
	}
	if st.Declaration.Vars["DB_PASSWORD"] != incident.Redacted || st.Declaration.Vars["TARGET"] != "primary" {
		t.Errorf("declared vars: %v", st.Declaration.Vars)
	}
}

// TestSecretVariableFromTheEnvironment: a secret runbook variable that the
// operator exported (PAGER_TOKEN=... drbook drill) instead of typing it
// reaches the shell block, and its value is redacted from the streamed
// output and the timeline like a typed one.
func TestSecretVariableFromTheEnvironment(t *testing.T) {
	const pw = "env-only-db-password-4242"
	t.Setenv("DB_PASSWORD", pw)
	s := MustStore(t)
	rb := testRunbook()
	rb.Phases[1].Steps[0].Block.Code = `echo "pw=$DB_PASSWORD"`
	in, err := incident.Declare(ctx, s, rb, incident.DeclareOptions{ID: "INC-ENV-SECRET", Root: t.TempDir()}, incident.NewManualClock(t0))
	must(t, err)
	var streamed []string
	res, err := in.RunStep(ctx, "assessment/scope", steps.Env{}, false, func(ev steps.Event) { streamed = append(streamed, ev.Line) })
	if err != nil || res.Status != steps.StatusOK {
		t.Fatalf("run: %+v %v", res, err)
	}
	evs, err := s.Events(ctx, in.ID())
	must(t, err)
	var b bytes.Buffer
	must(t, incident.WriteTimelineJSON(&b, evs))
	all := b.String() + strings.Join(streamed, "\n")
	if strings.Contains(all, pw) {
		t.Errorf("the secret from the environment leaked:\n%s", all)
	}
	if !strings.Contains(all, "pw=[REDACTED]") {
		t.Errorf("the block did not see the variable, or it was not redacted:\n%s", all)
	}
}

// TestEnvSecretsAfterALongLine: a .env whose first line is 100 KiB long
// (a pasted certificate) still has its later secrets found, every value
// of a key given twice included.
func TestEnvSecretsAfterALongLine(t *testing.T) {
	root := t.TempDir()
	env := "\ufeffTLS_CERT=" + strings.Repeat("B", 100<<10) + "\r\n" +
		"ALPACA_API_KEY=PKAFTERLONGLINE0001\r\nexport ALPACA_API_KEY=PKAFTERLONGLINE0002\r\nIBKR_PORT=7497\r\n"
	must(t, os.WriteFile(filepath.Join(root, ".env"), []byte(env), 0o600))
	got := strings.Join(incident.EnvSecrets(root), " ")
	for _, want := range []string{"PKAFTERLONGLINE0001", "PKAFTERLONGLINE0002"} {
		if !strings.Contains(got, want) {
			t.Errorf("EnvSecrets misses %s", want)
		}
	}
	if strings.Contains(" "+got+" ", " 7497 ") {
		t.Error("a port is not a secret")
	}
}
