package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// Message is one communication to deliver: a filled template of the plan's
// section 5.2 (an incident notification or a recovery update).
type Message struct {
	Subject    string
	Body       string
	Severity   int    // 1 (critical) to 3; 0 when not known
	IncidentID string // DRILL-... or INC-...
	Drill      bool   // the incident is a drill: every copy says so
}

// DrillPrefix marks the subject of every message sent for a drill, so that
// nobody who receives it mistakes an exercise for an outage.
const DrillPrefix = "[DRILL] "

// Title is the subject as sent: one line, with the drill prefix for a drill
// (once, even when the template already put it there).
func (m Message) Title() string {
	s := oneLine(m.Subject)
	if m.Drill && !strings.HasPrefix(s, strings.TrimSpace(DrillPrefix)) {
		s = DrillPrefix + s
	}
	return s
}

// Text is the body as sent. The plan's templates start the body with a
// "SUBJECT: ..." line repeating the subject; a channel that shows the
// subject already drops it, so the line reads once.
func (m Message) Text() string {
	body := strings.ReplaceAll(m.Body, "\r\n", "\n")
	if first, rest, ok := strings.Cut(body, "\n"); ok && strings.HasPrefix(first, "SUBJECT:") {
		if strings.TrimSpace(strings.TrimPrefix(first, "SUBJECT:")) == strings.TrimSpace(m.Subject) {
			body = strings.TrimLeft(rest, "\n")
		}
	}
	return body
}

// oneLine folds line breaks and other control characters into spaces: a
// subject is one header line, and a line break in it would start a header
// of the sender's choosing.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// Status is the outcome of one delivery attempt.
type Status string

// Outcomes of a delivery attempt.
const (
	// StatusSent: the server accepted the message (HTTP 2xx, SMTP 250 after
	// the data).
	StatusSent Status = "sent"
	// StatusFailed: the channel was reached, or is configured so that it
	// cannot be, and the message was refused or its fate is unknown (no
	// answer in time). The reason says which.
	StatusFailed Status = "failed"
	// StatusNotSent: the network was not there (the host name did not
	// resolve, the connection was refused or timed out, the network was
	// unreachable) and nothing left this machine.
	StatusNotSent Status = "not-sent"
)

// Kinds of channel.
const (
	KindWebhook = "webhook"
	KindSMTP    = "smtp"
)

// Delivery records one attempt to send a message through one channel, in a
// form fit for the incident's timeline: it never holds a secret.
type Delivery struct {
	Channel string `json:"channel"`
	Kind    string `json:"kind"`
	// Recipients are who the message was for: mail addresses, or a
	// webhook's scheme and host (never its whole URL).
	Recipients []string `json:"recipients"`
	Status     Status   `json:"status"`
	// Reason says why a delivery failed or was not sent.
	Reason string `json:"reason,omitempty"`
	// Detail is what the server said when it accepted the message.
	Detail string `json:"detail,omitempty"`
	// Reminder is the caller's fallback ("not sent: phone ...") on every
	// delivery that did not arrive.
	Reminder string    `json:"reminder,omitempty"`
	At       time.Time `json:"at"`
}

// Delivered reports whether the message reached the channel.
func (d Delivery) Delivered() bool { return d.Status == StatusSent }

// String is the delivery as one line of a timeline or a terminal.
func (d Delivery) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s (%s", d.Status, d.Channel, d.Kind)
	if len(d.Recipients) > 0 {
		fmt.Fprintf(&b, " to %s", strings.Join(d.Recipients, ", "))
	}
	b.WriteString(")")
	if d.Reason != "" {
		b.WriteString(": " + d.Reason)
	}
	if d.Reminder != "" {
		b.WriteString("; " + d.Reminder)
	}
	return b.String()
}

// Channel is one place a message can be delivered to.
type Channel interface {
	// Name is the channel's name in the site configuration; it is unique
	// among the channels given to Deliver and Retry.
	Name() string
	// Kind is KindWebhook, KindSMTP or another short word.
	Kind() string
	// Send delivers msg and reports the attempt. On failure the Delivery
	// says failed or not-sent with a reason and the error is an *Error
	// saying the same. Send must return soon after ctx is done.
	Send(ctx context.Context, msg Message) (Delivery, error)
}

// Error is why a channel could not deliver a message.
type Error struct {
	Channel string
	// Offline is true when nothing left this machine because the network
	// was not there: the delivery is not-sent rather than failed.
	Offline bool
	Reason  string
}

func (e *Error) Error() string { return "notify " + e.Channel + ": " + e.Reason }

// Hint tells the operator what to do next; it makes *Error a hint.Hinter
// (notify stays a leaf package, so the interface is met without naming it).
func (e *Error) Hint() string {
	if e.Offline {
		return "the message was not sent: reach the people by phone, then retry when the network is back"
	}
	return "the message did not arrive: reach the people by phone and check the channel's configuration"
}

// Secret is a credential held for sending. It prints as [REDACTED] under
// every fmt verb and in JSON, so a configuration or a channel can be logged
// or dumped without giving it away; Reveal is the only way to its value.
type Secret string

// Redacted is what a secret prints as.
const Redacted = "[REDACTED]"

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }

// String hides the value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return Redacted
}

// GoString hides the value from %#v.
func (s Secret) GoString() string { return fmt.Sprintf("notify.Secret(%q)", s.String()) }

// Format hides the value from every verb, %x and %q included.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprint(f, s.GoString())
		return
	}
	fmt.Fprint(f, s.String())
}

// MarshalJSON hides the value.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalText hides the value from encoders that use text marshalling.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// RedactURL returns the part of a URL that may be shown: its scheme and
// host ("https://hooks.slack.com"). A webhook URL's path is its credential;
// user information and the query are dropped too. A URL that does not parse
// shows as [REDACTED].
func RedactURL(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Scheme == "" || u.Host == "" {
		return Redacted
	}
	return u.Scheme + "://" + u.Host
}

// isLoopback reports whether host names this machine: localhost or a
// loopback address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}
