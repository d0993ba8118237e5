package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Webhook posts messages to a Slack-compatible incoming webhook: one JSON
// object with a "text" field (Slack, Mattermost, Rocket.Chat and Teams'
// Slack-compatible endpoints take it). The URL is the credential, so it is
// a Secret and only its scheme and host are ever shown.
type Webhook struct {
	Channel string // the channel's name in the site configuration
	URL     Secret // https://hooks.slack.com/services/T.../B.../...
	// Timeout limits one attempt; 0 means DefaultTimeout.
	Timeout time.Duration
	// AllowHTTP permits a plain http:// URL to a host other than this
	// machine. Without it the URL must be https (a loopback http URL, a
	// local test server, is always allowed): the URL is a secret and must
	// not cross a network in the clear.
	AllowHTTP bool
	// Client sends the request; nil means a client with the default
	// transport (which honours HTTPS_PROXY). Redirects are never followed.
	Client *http.Client `json:"-"`
	// Now stamps the delivery; nil means time.Now.
	Now func() time.Time `json:"-"`
}

// maxSlackText is Slack's limit on a message's text; longer text is
// truncated by Slack itself, so drbook cuts it first and says so.
const maxSlackText = 40000

// Name returns the channel's name.
func (w *Webhook) Name() string { return w.Channel }

// Kind returns KindWebhook.
func (w *Webhook) Kind() string { return KindWebhook }

// Secrets returns the values a recorder must redact: the URL, its path and
// its query.
func (w *Webhook) Secrets() []string {
	raw := strings.TrimSpace(w.URL.Reveal())
	out := []string{raw}
	if u, err := url.Parse(raw); err == nil {
		if len(u.Path) > 1 {
			out = append(out, u.Path, strings.TrimPrefix(u.Path, "/"))
		}
		if u.RawQuery != "" { // Google Chat and others carry the key there
			out = append(out, u.RawQuery)
		}
		if p, ok := u.User.Password(); ok {
			out = append(out, p)
		}
	}
	return out
}

// Validate checks the configuration without sending anything. Its messages
// never contain the URL.
func (w *Webhook) Validate() error {
	raw := strings.TrimSpace(w.URL.Reveal())
	if raw == "" {
		return fmt.Errorf("webhook %s: no URL (it comes from the secret store or .env)", w.Channel)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("webhook %s: the URL is not an absolute http(s) URL", w.Channel)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !w.AllowHTTP && !isLoopback(u.Hostname()) {
			return fmt.Errorf("webhook %s: refusing to send the URL in the clear to %s: use https (or allow http for this channel)", w.Channel, RedactURL(raw))
		}
	default:
		return fmt.Errorf("webhook %s: the URL's scheme must be https, not %q", w.Channel, u.Scheme)
	}
	if w.Timeout < 0 {
		return fmt.Errorf("webhook %s: negative timeout %s", w.Channel, w.Timeout)
	}
	return nil
}

// SlackText is the text a webhook posts for msg: the subject, a blank
// line, the body, with &, < and > escaped as Slack requires (so that text
// from a runbook cannot mention @channel or forge a link) and cut to
// Slack's limit.
func SlackText(msg Message) string {
	text := msg.Title()
	if body := strings.TrimRight(msg.Text(), "\n"); body != "" {
		text += "\n\n" + body
	}
	text = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(text)
	if r := []rune(text); len(r) > maxSlackText {
		const cut = "\n… (truncated by drbook)"
		text = string(r[:maxSlackText-len([]rune(cut))]) + cut
	}
	return text
}

// Send posts msg. A 2xx answer is sent (unless the body is a Slack API
// error object, {"ok":false,...}); any other answer is failed with its
// status and a short excerpt of what the server said; no connection at all
// is not-sent.
func (w *Webhook) Send(ctx context.Context, msg Message) (Delivery, error) {
	now := w.Now
	if now == nil {
		now = time.Now
	}
	raw := strings.TrimSpace(w.URL.Reveal())
	d := Delivery{Channel: w.Channel, Kind: KindWebhook, Recipients: []string{RedactURL(raw)}}
	fail := func(offline bool, reason string) (Delivery, error) {
		d.Status = StatusFailed
		if offline {
			d.Status = StatusNotSent
		}
		d.Reason = scrub(reason, w.Secrets()...)
		d.At = now()
		return d, &Error{Channel: w.Channel, Offline: offline, Reason: d.Reason}
	}
	if err := w.Validate(); err != nil {
		return fail(false, err.Error())
	}
	ctx, cancel, limit := attempt(ctx, w.Timeout)
	defer cancel()

	payload, err := json.Marshal(struct {
		Text string `json:"text"`
	}{SlackText(msg)})
	if err != nil {
		return fail(false, "encode the message: "+err.Error())
	}
	var connected atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) { connected.Store(true) },
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, raw, bytes.NewReader(payload))
	if err != nil {
		return fail(false, "the URL does not make a request")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "drbook")

	client := &http.Client{}
	if w.Client != nil {
		c := *w.Client
		client = &c
	}
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error's text holds the whole URL
		}
		host := req.URL.Host
		if req.URL.Port() == "" {
			host = net.JoinHostPort(req.URL.Hostname(), map[string]string{"http": "80", "https": "443"}[req.URL.Scheme])
		}
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "proxyconnect" {
			host = "the proxy"
			var dial *net.OpError
			if errors.As(op.Err, &dial) && dial.Addr != nil {
				host += " " + dial.Addr.String()
			}
		}
		if !connected.Load() {
			if off, reason := offline(err, host); off {
				return fail(true, reason)
			}
			return fail(false, "cannot connect to "+host+": "+err.Error())
		}
		if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
			return fail(false, fmt.Sprintf("no answer within %s; it may have arrived", limit.Round(time.Millisecond)))
		}
		if errors.Is(err, context.Canceled) {
			return fail(false, "interrupted while waiting for an answer; it may have arrived")
		}
		return fail(false, "post: "+err.Error())
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	said := excerpt(body)
	status := fmt.Sprintf("HTTP %d", resp.StatusCode)
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		reason := status + " rate limited"
		if said != "" {
			reason += ": " + said
		}
		if ra := retryAfter(resp.Header.Get("Retry-After"), now()); ra > 0 {
			reason += fmt.Sprintf("; retry after %s", ra)
		}
		return fail(false, reason)
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		to := RedactURL(resp.Header.Get("Location"))
		return fail(false, fmt.Sprintf("%s: redirected to %s, not followed (is the URL right?)", status, to))
	case resp.StatusCode < 200 || resp.StatusCode >= 300:
		if said == "" {
			said = http.StatusText(resp.StatusCode)
		}
		return fail(false, status+": "+said)
	}
	var apiErr struct {
		OK    *bool  `json:"ok"`
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &apiErr) == nil && apiErr.OK != nil && !*apiErr.OK {
		return fail(false, status+" but the answer says not ok: "+apiErr.Error)
	}
	d.Status = StatusSent
	d.Detail = status
	if said != "" {
		d.Detail += ": " + said
	}
	d.Detail = scrub(d.Detail, w.Secrets()...)
	d.At = now()
	return d, nil
}

// excerpt is the start of a server's answer, printable and on one line.
func excerpt(b []byte) string {
	s := strings.ToValidUTF8(string(b), "?")
	s = oneLine(s)
	if r := []rune(s); len(r) > 120 {
		s = string(r[:120]) + "…"
	}
	return s
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now).Round(time.Second)
	}
	return 0
}
