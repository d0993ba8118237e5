package redact_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drbook/drbook/steps/redact"
)

// TestEncodingsAreRedacted: a secret leaks in the shapes shell tools give
// it, not only as typed.
func TestEncodingsAreRedacted(t *testing.T) {
	const pw = "Ib/kr+Pa ss=w0rd&x\"y<z>"
	r := redact.New(pw)
	b64 := func(enc *base64.Encoding, s string) string { return enc.EncodeToString([]byte(s)) }
	js, _ := json.Marshal(pw)
	cases := map[string]string{
		"plain":               "IBKR_PASSWORD=" + pw,
		"json":                string(js),
		"query":               "https://x.example/?pw=" + url.QueryEscape(pw),
		"path":                "https://x.example/" + url.PathEscape(pw),
		"query lower hex":     "pw=Ib%2fkr%2bPa+ss%3dw0rd%26x%22y%3cz%3e",
		"base64":              b64(base64.StdEncoding, pw),
		"base64 raw":          b64(base64.RawStdEncoding, pw),
		"base64 url":          b64(base64.URLEncoding, pw),
		"base64 url raw":      b64(base64.RawURLEncoding, pw),
		"echo | base64":       b64(base64.StdEncoding, pw+"\n"),
		"basic auth header":   "Authorization: Basic " + b64(base64.StdEncoding, "alice:"+pw),
		"inside base64 blob1": b64(base64.StdEncoding, "x"+pw+"tail"),
		"inside base64 blob2": b64(base64.URLEncoding, "xy"+pw+"tail"),
	}
	for name, text := range cases {
		got := r.String(text)
		if !strings.Contains(got, redact.Mask) {
			t.Errorf("%s: %q not redacted: %q", name, text, got)
		}
		// Every decodable leftover must not hold the secret.
		for _, f := range strings.FieldsFunc(got, func(c rune) bool { return c == '[' || c == ']' || c == ' ' }) {
			for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
				if d, err := enc.DecodeString(f); err == nil && strings.Contains(string(d), pw) {
					t.Errorf("%s: leftover %q decodes to the secret", name, f)
				}
			}
		}
		if strings.Contains(got, pw) {
			t.Errorf("%s: secret still there: %q", name, got)
		}
	}
}

// TestShortValuesAreWords: a 4-digit PIN is redacted where it stands
// alone, not inside longer numbers or words.
func TestShortValuesAreWords(t *testing.T) {
	r := redact.New("8842", "1")
	for in, want := range map[string]string{
		"BROKER_PIN=8842":          "BROKER_PIN=" + redact.Mask,
		"pin 8842, ok":             "pin " + redact.Mask + ", ok",
		"order 188842 at 18842.5":  "order 188842 at 18842.5",
		"pin8842":                  "pin" + redact.Mask,
		"8842 8842":                redact.Mask + " " + redact.Mask,
		"1 order of 1":             "1 order of 1", // shorter than MinLen: never a secret
		"ODg0Mg==":                 redact.Mask,    // echo -n 8842 | base64
		"key=ODg0Mgo=":             "key=" + redact.Mask,
		"QODg0Mg== inside a token": "QODg0Mg== inside a token",
	} {
		if got := r.String(in); got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
}

// TestWebhookToken: a webhook URL's token is redacted on its own too.
func TestWebhookToken(t *testing.T) {
	const token = "zq7XdrbookSlackTokenQ9"
	hook := "https://hooks.slack.example/services/T0DRB00K/B0DRB00K/" + token
	r := redact.New(hook)
	for _, s := range []string{hook, "POST /services/T0DRB00K/B0DRB00K/" + token + " 404", "token " + token} {
		if got := r.String(s); strings.Contains(got, token) {
			t.Errorf("%q: token left: %q", s, got)
		}
	}
	if got := r.String("see https://hooks.slack.example/ for services"); got != "see https://hooks.slack.example/ for services" {
		t.Errorf("host and ordinary words shredded: %q", got)
	}
	db := redact.New("postgres://app:Pg-pw-2026@db.internal:5432/quantai", "smtp://mail:xyz@relay:25")
	if got := db.String("open data/quantai.db as app with Pg-pw-2026; xyzzy xyz"); got != "open data/quantai.db as app with "+redact.Mask+"; xyzzy "+redact.Mask {
		t.Errorf("database URL: %q", got)
	}
}

// TestEnvRule: every .env value is secret unless its key is allowlisted;
// public words and too-short values stay readable.
func TestEnvRule(t *testing.T) {
	root := t.TempDir()
	env := "\ufeffIBKR_PASSWORD='long-ibkr-pw'\r\nBROKER_PIN=8842\nX_FOO_TOKEN2=odd\nIBKR_HOST=10.0.0.5\nIBKR_PORT=7497\n" +
		"TRADING_MODE=paper\nLOG_LEVEL=debug\nTZ=Europe/Zurich\nDATA_DIR=/srv/q\nFEATURE_X=true\nIBKR_CLIENT_ID=17\n" +
		"DB_HOST=postgres://app:hostpw@db:5432/q\nexport NOTE=\"hello world\"\n"
	if err := os.WriteFile(filepath.Join(root, ".env"), []byte(env), 0o600); err != nil {
		t.Fatal(err)
	}
	got := redact.RootSecrets(root)
	want := []string{"long-ibkr-pw", "8842", "odd", "hostpw", "hello world"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("secrets: got %q, want %q", got, want)
	}
	big := t.TempDir()
	if err := os.WriteFile(filepath.Join(big, ".env"), []byte("CERT="+strings.Repeat("B", redact.MaxEnvSize)+"\nLATE_PASSWORD=late-secret-99\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := redact.RootSecrets(big); len(got) != 2 || got[1] != "late-secret-99" {
		t.Errorf("a .env over the checks' cap loses its secrets: %d found", len(got))
	}
	if redact.RootSecrets(filepath.Join(root, "nope")) != nil {
		t.Error("a missing .env has secrets")
	}
	if err := os.Mkdir(filepath.Join(root, "dir"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(root, "dir", ".env"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := redact.ReadEnvFile(filepath.Join(root, "dir", ".env")); err == nil {
		t.Error("a directory named .env was read")
	}
}

// TestErrorKeepsChain: a redacted error still matches its cause.
func TestErrorKeepsChain(t *testing.T) {
	cause := errors.New("boom")
	r := redact.New("s3cr3t-value")
	err := r.Error(errors.Join(cause, errors.New("with s3cr3t-value")))
	if strings.Contains(err.Error(), "s3cr3t-value") || !errors.Is(err, cause) {
		t.Errorf("got %v", err)
	}
	var nilR *redact.Redactor
	if nilR.String("x") != "x" || nilR.Len() != 0 {
		t.Error("nil redactor")
	}
}

// BenchmarkRedactLine redacts one line of block output with a .env's worth
// of secrets (a dozen long, a few short), as a shell block's every line is.
func BenchmarkRedactLine(b *testing.B) {
	r := redact.New("sk-live-0123456789abcdef0123456789", "PKALPACA5555512345", "8842", "Zq9vX2", "pgr-7Hq2Lw9Xk4Vt",
		"https://hooks.slack.example/services/T0DRB00K/B0DRB00K/zq7XdrbookSlackTokenQ9", "Ibkr-Pa55/w0rd+Zq7@2026",
		"hunter2-very-secret", "mailpw-42", "a9f3c2e1b7d4f6a8c0e2", "abc", "correct horse battery staple")
	line := "2026-03-13T20:00:01Z INFO order 188842 filled at 18842.50 for account main via ibkr (client 17); pin 8842"
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		r.String(line)
	}
}
