package cli_test

import (
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
)

// mailbox is a real SMTP server (go-smtp) on loopback that keeps what it
// is given: plaintext, which drbook allows only for a server on this
// machine, with AUTH PLAIN for one user.
type mailbox struct {
	mu    sync.Mutex
	got   []string // raw messages
	rcpts []string
	port  int
}

type mailboxSession struct{ mb *mailbox }

func (s mailboxSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s mailboxSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "drbook" || pass != "smtp-pass-7731" {
			return gosmtp.ErrAuthFailed
		}
		return nil
	}), nil
}
func (s mailboxSession) Mail(string, *gosmtp.MailOptions) error { return nil }
func (s mailboxSession) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	s.mb.mu.Lock()
	s.mb.rcpts = append(s.mb.rcpts, to)
	s.mb.mu.Unlock()
	return nil
}
func (s mailboxSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	s.mb.mu.Lock()
	s.mb.got = append(s.mb.got, string(b))
	s.mb.mu.Unlock()
	return err
}
func (s mailboxSession) Reset()        {}
func (s mailboxSession) Logout() error { return nil }

func startMailbox(t *testing.T) *mailbox {
	t.Helper()
	mb := &mailbox{}
	srv := gosmtp.NewServer(gosmtp.BackendFunc(func(*gosmtp.Conn) (gosmtp.Session, error) { return mailboxSession{mb}, nil }))
	srv.Domain, srv.AllowInsecureAuth, srv.ErrorLog = "mail.test", true, log.New(io.Discard, "", 0)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mb.port = l.Addr().(*net.TCPAddr).Port
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return mb
}

func (mb *mailbox) messages() []string {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return append([]string(nil), mb.got...)
}

// TestCommsSendDeliversAndRecords sends an incident notification through
// a Slack-compatible webhook and SMTP named by the site configuration, with
// their secrets in the system's .env; every attempt is in the timeline,
// the secrets are not; a webhook that is down is reported not sent with
// whom to phone, and --retry delivers it once it is back.
func TestCommsSendDeliversAndRecords(t *testing.T) {
	root := actionSandbox(t)
	state := t.TempDir()
	mb := startMailbox(t)
	var hookMu sync.Mutex
	var hookBodies []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		hookMu.Lock()
		hookBodies = append(hookBodies, string(b))
		hookMu.Unlock()
		io.WriteString(w, "ok")
	}))
	defer hook.Close()
	hookURL := hook.URL + "/services/T0001/B0002/hooktoken9931"
	// A second webhook nothing listens on: the network is not there.
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadURL := "http://" + dead.Addr().String() + "/services/T9/B9/deadtoken4417"
	dead.Close()

	envFile := filepath.Join(root, ".env")
	old, _ := os.ReadFile(envFile)
	os.WriteFile(envFile, append(old, []byte("SLACK_WEBHOOK_URL="+hookURL+"\nOPS_HOOK="+deadURL+"\nSMTP_PASSWORD=smtp-pass-7731\n")...), 0o600)
	cfg := filepath.Join(t.TempDir(), "drbook.yaml")
	os.WriteFile(cfg, []byte(`system: {root: `+root+`}
contacts:
  people:
    - {role: Primary On-Call, name: Ana Ruiz, phone: "+1 212 555 0101"}
notify:
  webhooks:
    - {name: slack, url_env: SLACK_WEBHOOK_URL}
    - {name: ops, url_env: OPS_HOOK}
  smtp: {host: 127.0.0.1, port: `+strconv.Itoa(mb.port)+`, from: drbook@quantai.example, to: [ops@quantai.example, cto@quantai.example],
         username: drbook, password_env: SMTP_PASSWORD, starttls: false}
`), 0o644)
	env := map[string]string{"DRBOOK_STATE_DIR": state, "DRBOOK_CONFIG": cfg, "USER": "erin"}
	id := mustDeclare(t, state, "complete-system-recovery", root)

	out, errOut, code := runCLI(t, env, "comms", id, "--template", "notification", "--send", "--to", "CEO, CTO")
	if code != 1 || !strings.Contains(out, "sent slack") || !strings.Contains(out, "sent mail") ||
		!strings.Contains(out, "not-sent ops") || !strings.Contains(out, "phone Ana Ruiz (Primary On-Call) +1 212 555 0101") ||
		!strings.Contains(errOut, "--retry") {
		t.Fatalf("send with one channel down: %d\n%s\n%s", code, out, errOut)
	}
	if len(hookBodies) != 1 || !strings.Contains(hookBodies[0], "QuantAI") {
		t.Errorf("webhook got %q", hookBodies)
	}
	msgs := mb.messages()
	if len(msgs) != 1 || !strings.Contains(msgs[0], "Subject:") || !strings.Contains(msgs[0], id) {
		t.Errorf("mailbox got %q", msgs)
	}
	// The timeline has one delivery event per channel; no secret is in it.
	out, _, _ = runCLI(t, env, "timeline", id, "--json")
	for _, leak := range []string{"hooktoken9931", "deadtoken4417", "smtp-pass-7731"} {
		if strings.Contains(out, leak) {
			t.Errorf("timeline holds the secret %q", leak)
		}
	}
	var evs []struct {
		Kind string
		Data struct {
			Delivery *struct{ Channel, Status, Reminder string }
		}
	}
	if err := json.Unmarshal([]byte(out), &evs); err != nil {
		t.Fatalf("timeline --json: %v", err)
	}
	got := map[string]string{}
	for _, e := range evs {
		if e.Kind == "delivery" && e.Data.Delivery != nil {
			got[e.Data.Delivery.Channel] = e.Data.Delivery.Status
		}
	}
	if got["slack"] != "sent" || got["mail"] != "sent" || got["ops"] != "not-sent" {
		t.Errorf("delivery events: %v", got)
	}

	// The ops hook comes back; --retry sends only there.
	srv2 := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })}
	l, err := net.Listen("tcp", strings.TrimPrefix(strings.Split(deadURL, "/services")[0], "http://"))
	if err != nil {
		t.Skipf("could not listen again on the dead hook's port: %v", err)
	}
	go srv2.Serve(l)
	defer srv2.Close()
	out, errOut, code = runCLI(t, env, "comms", id, "--retry")
	if code != 0 || !strings.Contains(out, "sent ops") || strings.Contains(out, "slack") {
		t.Fatalf("retry: %d\n%s\n%s", code, out, errOut)
	}
	if len(mb.messages()) != 1 || len(hookBodies) != 1 {
		t.Errorf("retry re-sent through channels that had delivered: %d mails, %d slack", len(mb.messages()), len(hookBodies))
	}
	if _, errOut, code := runCLI(t, env, "comms", id, "--retry"); code != 1 || !strings.Contains(errOut, "every channel") {
		t.Errorf("retry with nothing outstanding: %d %q", code, errOut)
	}
}
