package notify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drbook/drbook/steps/notify"
)

// hookPath is the credential part of a Slack webhook URL; it must appear
// in nothing drbook reports.
const hookPath = "/services/T0DRBOOK/B0NOTIFY/abcdEFGHijklMNOPqrstUVWX"

// slack answers as Slack's incoming webhooks are documented to: 200 "ok"
// for a good JSON payload with a text field, 400 invalid_payload for a bad
// one, 403 invalid_token, 404 no_service, 410 channel_is_archived, 429
// with Retry-After, 500 with an error word. mode picks the answer; it can
// change between requests (the service recovers).
type slack struct {
	mu       sync.Mutex
	mode     string
	requests []slackRequest
}

type slackRequest struct {
	Method, Path, ContentType string
	Body                      []byte
}

func (s *slack) setMode(m string) {
	s.mu.Lock()
	s.mode = m
	s.mu.Unlock()
}

func (s *slack) got() []slackRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]slackRequest(nil), s.requests...)
}

func (s *slack) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.requests = append(s.requests, slackRequest{r.Method, r.URL.Path, r.Header.Get("Content-Type"), body})
	mode := s.mode
	s.mu.Unlock()
	if r.URL.Path != hookPath {
		http.Error(w, "no_service", http.StatusNotFound)
		return
	}
	if r.Method != http.MethodPost {
		http.Error(w, "invalid_method", http.StatusMethodNotAllowed)
		return
	}
	var p struct {
		Text *string `json:"text"`
	}
	if json.Unmarshal(body, &p) != nil || p.Text == nil || *p.Text == "" {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, "invalid_payload")
		return
	}
	switch mode {
	case "", "ok":
		io.WriteString(w, "ok")
	case "invalid_token":
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, "invalid_token")
	case "archived":
		w.WriteHeader(http.StatusGone)
		io.WriteString(w, "channel_is_archived")
	case "rollup_error":
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, "rollup_error")
	case "rate_limited":
		w.Header().Set("Retry-After", "30")
		w.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(w, "rate_limited")
	case "api_error":
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":false,"error":"channel_not_found"}`)
	case "redirect":
		http.Redirect(w, r, "https://login.example.com/sso?token=zzz", http.StatusFound)
	case "slow":
		<-r.Context().Done() // answers only when the client gives up
	}
}

func startSlack(t *testing.T) (*slack, string) {
	t.Helper()
	s := &slack{}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv.URL
}

func hook(base string) *notify.Webhook {
	return &notify.Webhook{Channel: "ops-slack", URL: notify.Secret(base + hookPath), Now: clock}
}

// assertNoSecret fails if the webhook's credential shows in anything the
// delivery reports.
func assertNoSecret(t *testing.T, d notify.Delivery, err error) {
	t.Helper()
	b, _ := json.Marshal(d)
	all := string(b) + d.String()
	if err != nil {
		all += err.Error()
	}
	if strings.Contains(all, "abcdEFGH") || strings.Contains(all, "B0NOTIFY") {
		t.Errorf("webhook URL leaked: %s", all)
	}
}

// TestWebhookSends: the server gets one POST of {"text": ...} with the
// drill prefix, the subject once, and the body; Slack's "ok" is sent.
func TestWebhookSends(t *testing.T) {
	s, base := startSlack(t)
	d, err := hook(base).Send(context.Background(), drillMsg)
	if err != nil || d.Status != notify.StatusSent {
		t.Fatalf("Send = %+v, %v", d, err)
	}
	assertNoSecret(t, d, err)
	if d.Detail != "HTTP 200: ok" || !d.At.Equal(fixedNow) || d.Kind != notify.KindWebhook {
		t.Errorf("delivery %+v", d)
	}
	if len(d.Recipients) != 1 || d.Recipients[0] != base {
		t.Errorf("recipients %q, want the scheme and host %q", d.Recipients, base)
	}
	reqs := s.got()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	r := reqs[0]
	if r.Method != "POST" || r.ContentType != "application/json" {
		t.Errorf("request %s %s", r.Method, r.ContentType)
	}
	want := `{"text":"[DRILL] Datenbank ausgefallen – Severity 1\n\nIncident ID: DRILL-20261202-0630\nStatus: RESOLVING über alles\n.leading dot stays"}`
	if string(r.Body) != want {
		t.Errorf("body\n%s\nwant\n%s", r.Body, want)
	}
}

// TestWebhookEscapesSlackMarkup: text from a runbook cannot mention
// @channel or forge a link: &, < and > are escaped as Slack requires.
func TestWebhookEscapesSlackMarkup(t *testing.T) {
	s, base := startSlack(t)
	msg := notify.Message{Subject: "DB down", Body: "see <https://evil.example|the fix> & <!channel>\n"}
	if d, err := hook(base).Send(context.Background(), msg); err != nil {
		t.Fatalf("Send = %+v, %v", d, err)
	}
	var p struct{ Text string }
	if err := json.Unmarshal(s.got()[0].Body, &p); err != nil {
		t.Fatal(err)
	}
	if want := "DB down\n\nsee &lt;https://evil.example|the fix&gt; &amp; &lt;!channel&gt;"; p.Text != want {
		t.Errorf("text %q, want %q", p.Text, want)
	}
}

// TestWebhookAnswers: each documented refusal is failed, with the HTTP
// status and Slack's error word, and never the URL.
func TestWebhookAnswers(t *testing.T) {
	cases := []struct {
		mode, want string
	}{
		{"invalid_token", "HTTP 403: invalid_token"},
		{"archived", "HTTP 410: channel_is_archived"},
		{"rollup_error", "HTTP 500: rollup_error"},
		{"rate_limited", "HTTP 429 rate limited: rate_limited; retry after 30s"},
		{"api_error", "HTTP 200 but the answer says not ok: channel_not_found"},
		{"redirect", "HTTP 302: redirected to https://login.example.com, not followed"},
	}
	for _, c := range cases {
		t.Run(c.mode, func(t *testing.T) {
			s, base := startSlack(t)
			s.setMode(c.mode)
			d, err := hook(base).Send(context.Background(), drillMsg)
			if err == nil || d.Status != notify.StatusFailed || !strings.Contains(d.Reason, c.want) {
				t.Fatalf("Send = %+v, %v; want failed %q", d, err, c.want)
			}
			assertNoSecret(t, d, err)
			if strings.Contains(d.Reason, "zzz") {
				t.Errorf("redirect target's query leaked: %s", d.Reason)
			}
			if n := len(s.got()); n != 1 {
				t.Errorf("%d requests, want 1 (no redirect followed, no retry)", n)
			}
		})
	}
}

// TestWebhookWrongURL: a URL whose path is wrong is Slack's 404 no_service.
func TestWebhookWrongURL(t *testing.T) {
	_, base := startSlack(t)
	w := &notify.Webhook{Channel: "ops-slack", URL: notify.Secret(base + "/services/T0/B0/revoked-token-xyz"), Now: clock}
	d, err := w.Send(context.Background(), drillMsg)
	if err == nil || d.Status != notify.StatusFailed || d.Reason != "HTTP 404: no_service" {
		t.Fatalf("Send = %+v, %v", d, err)
	}
	if strings.Contains(d.String()+err.Error(), "revoked-token-xyz") {
		t.Errorf("URL leaked: %s", d)
	}
}

// TestWebhookSlow: a server that takes the request and never answers is
// failed when the channel's time runs out; the message may have arrived,
// and the reason says so.
func TestWebhookSlow(t *testing.T) {
	s, base := startSlack(t)
	s.setMode("slow")
	w := hook(base)
	// Long enough for a loopback connection on a busy machine: the
	// request must reach the server for the answer to be what is missing.
	w.Timeout = time.Second
	d, err := w.Send(context.Background(), drillMsg)
	if len(s.got()) != 1 {
		t.Fatalf("the request never reached the server: %+v", d)
	}
	if err == nil || d.Status != notify.StatusFailed || d.Reason != "no answer within 1s; it may have arrived" {
		t.Fatalf("Send = %+v, %v", d, err)
	}
	assertNoSecret(t, d, err)
}

// TestWebhookOffline: a refused connection and a name that does not
// resolve are not-sent, and the URL's path is in neither reason.
func TestWebhookOffline(t *testing.T) {
	host, port := closedAddr(t)
	w := &notify.Webhook{Channel: "ops-slack", URL: notify.Secret(fmt.Sprintf("http://%s:%d%s", host, port, hookPath)), Now: clock}
	d, err := w.Send(context.Background(), drillMsg)
	if err == nil || d.Status != notify.StatusNotSent || d.Reason != fmt.Sprintf("connection refused by %s:%d", host, port) {
		t.Fatalf("refused: Send = %+v, %v", d, err)
	}
	assertNoSecret(t, d, err)

	// .invalid never resolves (RFC 6761): offline and a wrong name look the
	// same from here, and both mean the message did not leave.
	// No proxy: one from the environment would answer for the name.
	w = &notify.Webhook{Channel: "ops-slack", URL: notify.Secret("https://hooks.drbook-test.invalid" + hookPath), Timeout: 5 * time.Second, Now: clock,
		Client: &http.Client{Transport: &http.Transport{}}}
	d, err = w.Send(context.Background(), drillMsg)
	if err == nil || d.Status != notify.StatusNotSent {
		t.Fatalf("unresolvable: Send = %+v, %v", d, err)
	}
	t.Logf("unresolvable: %s", d)
	if !strings.Contains(d.Reason, "cannot resolve hooks.drbook-test.invalid") && !strings.Contains(d.Reason, "in time") {
		t.Errorf("reason %q", d.Reason)
	}
	if d.Recipients[0] != "https://hooks.drbook-test.invalid" {
		t.Errorf("recipients %q", d.Recipients)
	}
	assertNoSecret(t, d, err)
}

// TestWebhookConfiguration: a missing URL, a URL that is not http(s), and
// plain http to another machine are refused before anything is sent, in
// messages that do not repeat the URL.
func TestWebhookConfiguration(t *testing.T) {
	cases := []struct{ url, want string }{
		{"", "no URL"},
		{"hooks.slack.com" + hookPath, "not an absolute http(s) URL"},
		{"ftp://hooks.slack.com" + hookPath, `scheme must be https, not "ftp"`},
		{"http://hooks.slack.com" + hookPath, "refusing to send the URL in the clear to http://hooks.slack.com"},
	}
	for _, c := range cases {
		w := &notify.Webhook{Channel: "ops-slack", URL: notify.Secret(c.url), Now: clock}
		err := w.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: Validate = %v, want %q", c.url, err, c.want)
			continue
		}
		d, serr := w.Send(context.Background(), drillMsg)
		if serr == nil || d.Status != notify.StatusFailed || !strings.Contains(d.Reason, c.want) {
			t.Errorf("%q: Send = %+v, %v", c.url, d, serr)
		}
		assertNoSecret(t, d, serr)
	}
	w := &notify.Webhook{Channel: "ops-slack", URL: "http://mattermost.lan" + hookPath, AllowHTTP: true}
	if err := w.Validate(); err != nil {
		t.Errorf("http allowed explicitly: %v", err)
	}
}

// TestWebhookURLNeverPrinted: every way of printing the channel hides the
// URL; RedactURL keeps scheme and host only.
func TestWebhookURLNeverPrinted(t *testing.T) {
	w := &notify.Webhook{Channel: "ops-slack", URL: "https://hooks.slack.com" + hookPath}
	b, err := json.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	out := string(b) + fmt.Sprintf("%v %+v %#v %s", w, *w, *w, w.URL)
	if strings.Contains(out, "abcdEFGH") {
		t.Errorf("URL printed: %s", out)
	}
	for in, want := range map[string]string{
		"https://hooks.slack.com" + hookPath:          "https://hooks.slack.com",
		"https://user:pw@chat.example.com:8443/x?t=1": "https://chat.example.com:8443",
		"not a url": "[REDACTED]",
		"":          "[REDACTED]",
	} {
		if got := notify.RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestWebhookProxyRefused: behind a proxy that is down, the reason names
// the proxy, not the webhook's host, and the delivery is not-sent.
func TestWebhookProxyRefused(t *testing.T) {
	host, port := closedAddr(t)
	proxy, _ := url.Parse(fmt.Sprintf("http://%s:%d", host, port))
	w := &notify.Webhook{Channel: "ops-slack", URL: notify.Secret("https://hooks.slack.com" + hookPath), Now: clock,
		Client: &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxy)}}}
	d, err := w.Send(context.Background(), drillMsg)
	if err == nil || d.Status != notify.StatusNotSent || d.Reason != fmt.Sprintf("connection refused by the proxy %s:%d", host, port) {
		t.Fatalf("Send = %+v, %v", d, err)
	}
	assertNoSecret(t, d, err)
}
