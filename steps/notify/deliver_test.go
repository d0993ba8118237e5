package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/drbook/drbook/steps/notify"
)

const reminder = "not sent: phone Dana Reyes (Primary On-Call) +1 555 0100"

// stuckChannel ignores its context and answers only when released: a
// badly behaved channel Deliver must not wait for past its deadline.
type stuckChannel struct {
	name    string
	release chan struct{}
}

func (s *stuckChannel) Name() string { return s.name }
func (s *stuckChannel) Kind() string { return "stuck" }
func (s *stuckChannel) Send(context.Context, notify.Message) (notify.Delivery, error) {
	<-s.release
	return notify.Delivery{Status: notify.StatusSent}, nil
}

// panicChannel panics when asked to send.
type panicChannel struct{}

func (panicChannel) Name() string { return "broken" }
func (panicChannel) Kind() string { return "custom" }
func (panicChannel) Send(context.Context, notify.Message) (notify.Delivery, error) {
	panic("nil map")
}

// liarChannel reports sent together with an error.
type liarChannel struct{}

func (liarChannel) Name() string { return "liar" }
func (liarChannel) Kind() string { return "custom" }
func (liarChannel) Send(context.Context, notify.Message) (notify.Delivery, error) {
	return notify.Delivery{Status: notify.StatusSent}, errors.New("disk full")
}

// TestDeliverEveryChannel: one delivery per channel, in order, each with
// its own outcome; the ones that did not arrive carry the reminder; all
// are stamped with the caller's clock.
func TestDeliverEveryChannel(t *testing.T) {
	ok, okURL := startSlack(t)
	bad, badURL := startSlack(t)
	bad.setMode("invalid_token")
	ms := startMailServer(t, serverOpts{})
	host, port := closedAddr(t)

	mailOK := mailChannel(ms, "ops@example.com")
	mailOff := &notify.SMTP{Channel: "backup-mail", Host: host, Port: port, From: "drbook@example.com", To: []string{"cto@example.com"}}
	badHook := hook(badURL)
	badHook.Channel = "exec-slack"
	later := fixedNow.Add(time.Minute)
	ds := notify.Deliver(context.Background(), drillMsg,
		[]notify.Channel{hook(okURL), mailOK, badHook, mailOff},
		notify.Options{Reminder: reminder, Now: func() time.Time { return later }})

	want := []struct {
		channel, kind string
		status        notify.Status
		reason        string
		to            string
	}{
		{"ops-slack", "webhook", notify.StatusSent, "", okURL},
		{"ops-mail", "smtp", notify.StatusSent, "", "ops@example.com"},
		{"exec-slack", "webhook", notify.StatusFailed, "HTTP 403: invalid_token", badURL},
		{"backup-mail", "smtp", notify.StatusNotSent, fmt.Sprintf("connection refused by %s:%d", host, port), "cto@example.com"},
	}
	if len(ds) != len(want) {
		t.Fatalf("%d deliveries: %+v", len(ds), ds)
	}
	for i, w := range want {
		d := ds[i]
		if d.Channel != w.channel || d.Kind != w.kind || d.Status != w.status || d.Reason != w.reason || strings.Join(d.Recipients, ",") != w.to {
			t.Errorf("delivery %d = %+v\nwant %+v", i, d, w)
		}
		if !d.At.Equal(later) {
			t.Errorf("delivery %d at %v, want the caller's clock", i, d.At)
		}
		if (d.Status == notify.StatusSent) == (d.Reminder == reminder) {
			t.Errorf("delivery %d: status %s with reminder %q", i, d.Status, d.Reminder)
		}
	}
	if len(ok.got()) != 1 || len(bad.got()) != 1 || len(ms.Messages()) != 1 {
		t.Errorf("requests: ok %d, bad %d, mail %d", len(ok.got()), len(bad.got()), len(ms.Messages()))
	}
	b, _ := json.Marshal(ds)
	if strings.Contains(string(b), "abcdEFGH") || strings.Contains(string(b), smtpPass) {
		t.Errorf("a secret in the deliveries: %s", b)
	}
}

// TestDeliverKeepsItsDeadline: a channel that ignores its context does not
// keep the caller: at the deadline it is reported failed, maybe arrived.
func TestDeliverKeepsItsDeadline(t *testing.T) {
	stuck := &stuckChannel{name: "pager", release: make(chan struct{})}
	defer close(stuck.release)
	ds := notify.Deliver(context.Background(), drillMsg, []notify.Channel{stuck},
		notify.Options{Deadline: 200 * time.Millisecond, Timeout: time.Hour, Reminder: reminder, Now: clock})
	if len(ds) != 1 || ds[0].Status != notify.StatusFailed || ds[0].Reason != "no answer within 200ms; it may yet arrive" || ds[0].Reminder != reminder {
		t.Fatalf("stuck channel: %+v", ds)
	}
	if ds[0].Channel != "pager" || ds[0].Kind != "stuck" || !ds[0].At.Equal(fixedNow) {
		t.Errorf("stuck channel: %+v", ds[0])
	}
}

// TestDeliverInterrupted: an operator's interrupt ends the delivery at
// once; a channel that had not answered says so.
func TestDeliverInterrupted(t *testing.T) {
	stuck := &stuckChannel{name: "pager", release: make(chan struct{})}
	defer close(stuck.release)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ds := notify.Deliver(ctx, drillMsg, []notify.Channel{stuck}, notify.Options{Now: clock})
	if ds[0].Status != notify.StatusFailed || !strings.Contains(ds[0].Reason, "interrupted") {
		t.Errorf("%+v", ds[0])
	}
}

// TestDeliverSurvivesBadChannels: a channel that panics, one that says
// sent with an error, a nil one and a duplicate name are reported failed;
// Deliver itself goes on.
func TestDeliverSurvivesBadChannels(t *testing.T) {
	s, okURL := startSlack(t)
	ds := notify.Deliver(context.Background(), drillMsg,
		[]notify.Channel{panicChannel{}, liarChannel{}, nil, hook(okURL), hook(okURL), (*notify.SMTP)(nil)}, notify.Options{Now: clock})
	if len(ds) != 6 {
		t.Fatalf("%d deliveries", len(ds))
	}
	if ds[0].Status != notify.StatusFailed || ds[0].Reason != "channel failed: nil map" || ds[0].Channel != "broken" {
		t.Errorf("panic: %+v", ds[0])
	}
	if ds[1].Status != notify.StatusFailed || ds[1].Reason != "disk full" {
		t.Errorf("sent with an error: %+v", ds[1])
	}
	if ds[2].Status != notify.StatusFailed {
		t.Errorf("nil channel: %+v", ds[2])
	}
	if ds[3].Status != notify.StatusSent {
		t.Errorf("good channel: %+v", ds[3])
	}
	if ds[4].Status != notify.StatusFailed || !strings.Contains(ds[4].Reason, `another channel is named "ops-slack"`) {
		t.Errorf("duplicate: %+v", ds[4])
	}
	if ds[5].Status != notify.StatusFailed || !strings.Contains(ds[5].Reason, "channel failed") {
		t.Errorf("nil pointer: %+v", ds[5])
	}
	if n := len(s.got()); n != 1 {
		t.Errorf("the duplicate was sent too: %d requests", n)
	}
	if ds := notify.Deliver(context.Background(), drillMsg, nil, notify.Options{}); len(ds) != 0 {
		t.Errorf("no channels: %+v", ds)
	}
}

// TestRetrySendsOnlyWhatDidNotArrive: after the webhook service recovers,
// Retry sends through it again and not through the channel that already
// delivered; a second retry has nothing left to send.
func TestRetrySendsOnlyWhatDidNotArrive(t *testing.T) {
	good, goodURL := startSlack(t)
	flaky, flakyURL := startSlack(t)
	flaky.setMode("rollup_error")
	flakyHook := hook(flakyURL)
	flakyHook.Channel = "exec-slack"
	channels := []notify.Channel{hook(goodURL), flakyHook}
	opts := notify.Options{Reminder: reminder, Now: clock}

	first := notify.Deliver(context.Background(), drillMsg, channels, opts)
	if first[0].Status != notify.StatusSent || first[1].Status != notify.StatusFailed {
		t.Fatalf("first attempt: %+v", first)
	}
	if out := notify.Outstanding(first); len(out) != 1 || out[0].Channel != "exec-slack" {
		t.Fatalf("outstanding: %+v", out)
	}

	// Still failing: the retry fails again, and is one attempt.
	second := notify.Retry(context.Background(), drillMsg, channels, first, opts)
	if len(second) != 1 || second[0].Channel != "exec-slack" || second[0].Status != notify.StatusFailed {
		t.Fatalf("second attempt: %+v", second)
	}

	flaky.setMode("ok")
	history := append(first, second...)
	third := notify.Retry(context.Background(), drillMsg, channels, history, opts)
	if len(third) != 1 || third[0].Channel != "exec-slack" || third[0].Status != notify.StatusSent || third[0].Reminder != "" {
		t.Fatalf("third attempt: %+v", third)
	}
	if n := len(good.got()); n != 1 {
		t.Errorf("the channel that delivered got %d requests", n)
	}
	if n := len(flaky.got()); n != 3 {
		t.Errorf("the flaky channel got %d requests, want 3", n)
	}
	history = append(history, third...)
	if out := notify.Outstanding(history); len(out) != 0 {
		t.Errorf("outstanding after success: %+v", out)
	}
	if again := notify.Retry(context.Background(), drillMsg, channels, history, opts); len(again) != 0 {
		t.Errorf("retry with nothing outstanding sent %+v", again)
	}
}

// TestRetryChannelGone: a channel no longer configured is reported, not
// dropped in silence.
func TestRetryChannelGone(t *testing.T) {
	prev := []notify.Delivery{{Channel: "old-pager", Kind: "webhook", Status: notify.StatusNotSent, Reason: "connection refused"}}
	ds := notify.Retry(context.Background(), drillMsg, nil, prev, notify.Options{Reminder: reminder, Now: clock})
	if len(ds) != 1 || ds[0].Status != notify.StatusFailed || !strings.Contains(ds[0].Reason, `no channel named "old-pager"`) || ds[0].Reminder != reminder || !ds[0].At.Equal(fixedNow) {
		t.Errorf("%+v", ds)
	}
}

// TestSecrets: what a recorder must redact, from every channel that holds
// one.
func TestSecrets(t *testing.T) {
	chans := []notify.Channel{
		&notify.Webhook{Channel: "a", URL: "https://chat.example.com/v1/spaces/AAA/messages?key=k3y-value&token=t0ken-value"},
		&notify.SMTP{Channel: "b", Password: "hunter2-very-secret"},
		(*notify.Webhook)(nil), nil, panicChannel{},
	}
	got := strings.Join(notify.Secrets(chans), "\n")
	for _, want := range []string{"/v1/spaces/AAA/messages", "key=k3y-value&token=t0ken-value", "hunter2-very-secret"} {
		if !strings.Contains(got, want) {
			t.Errorf("secrets lack %q:\n%s", want, got)
		}
	}
}

// TestDeliveryString: the one-line form a timeline shows.
func TestDeliveryString(t *testing.T) {
	d := notify.Delivery{Channel: "ops-mail", Kind: "smtp", Recipients: []string{"a@example.com", "b@example.com"},
		Status: notify.StatusNotSent, Reason: "connection refused by 10.0.0.5:587", Reminder: reminder}
	want := "not-sent ops-mail (smtp to a@example.com, b@example.com): connection refused by 10.0.0.5:587; " + reminder
	if d.String() != want {
		t.Errorf("%q\nwant %q", d.String(), want)
	}
}

// TestMessageTitle: the drill prefix once; line breaks folded.
func TestMessageTitle(t *testing.T) {
	cases := []struct {
		m    notify.Message
		want string
	}{
		{notify.Message{Subject: "DB down", Drill: true}, "[DRILL] DB down"},
		{notify.Message{Subject: "[DRILL] [URGENT] DB down", Drill: true}, "[DRILL] [URGENT] DB down"},
		{notify.Message{Subject: "DB\r\ndown\tnow"}, "DB down now"},
		{notify.Message{Subject: "[DRILL] left over"}, "[DRILL] left over"},
	}
	for _, c := range cases {
		if got := c.m.Title(); got != c.want {
			t.Errorf("Title(%q) = %q, want %q", c.m.Subject, got, c.want)
		}
	}
	m := notify.Message{Subject: "S", Body: "SUBJECT: other\n\nbody"}
	if m.Text() != m.Body {
		t.Errorf("a SUBJECT line that is not the subject was dropped: %q", m.Text())
	}
}

// TestLeafPackage: notify imports only the standard library, so every
// front end and action can use it without importing one another.
func TestLeafPackage(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go command not found")
	}
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	if got := strings.TrimSpace(string(out)); got != "github.com/drbook/drbook/steps/notify" {
		t.Errorf("notify depends on more than the standard library:\n%s", got)
	}
}
