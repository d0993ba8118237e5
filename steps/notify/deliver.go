package notify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"time"
)

// Defaults for Options.
const (
	DefaultTimeout  = 15 * time.Second // one channel
	DefaultDeadline = 30 * time.Second // the whole delivery
)

// Options tune a delivery.
type Options struct {
	// Timeout limits each channel's attempt; 0 means DefaultTimeout. A
	// channel's own, shorter timeout still applies.
	Timeout time.Duration
	// Deadline limits the whole delivery: Deliver returns by then whatever
	// the channels do; 0 means DefaultDeadline.
	Deadline time.Duration
	// Reminder is the fallback the operator is given on every delivery that
	// did not arrive, e.g. "not sent: phone Dana Reyes (Primary On-Call)
	// +1 555 0100".
	Reminder string
	// Now is the clock deliveries are stamped with; nil means time.Now.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Deadline <= 0 {
		o.Deadline = DefaultDeadline
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Deliver sends msg through every channel at once and returns one Delivery
// per channel, in the channels' order. It never returns an error and never
// keeps the caller past opts.Deadline: each delivery is stamped when its
// channel answers, and a channel still busy at the deadline is reported
// failed ("no answer within ..."; it may yet arrive) and left to give up
// on its own once its context is cancelled. A channel that panics is
// reported failed too. The caller records every delivery in the
// timeline and shows the reminders.
func Deliver(ctx context.Context, msg Message, channels []Channel, opts Options) []Delivery {
	opts = opts.withDefaults()
	ctx, cancel := context.WithTimeout(ctx, opts.Deadline)
	defer cancel()

	type result struct {
		i int
		d Delivery
	}
	out := make([]Delivery, len(channels))
	answered := make([]bool, len(channels))
	results := make(chan result, len(channels)) // buffered: a late channel never blocks
	seen := map[string]bool{}
	pending := 0
	for i, ch := range channels {
		name, kind, err := describe(ch)
		out[i] = Delivery{Channel: name, Kind: kind}
		switch {
		case err != nil:
			out[i].Status, out[i].Reason = StatusFailed, err.Error()
		case seen[name]:
			out[i].Status, out[i].Reason = StatusFailed, fmt.Sprintf("not sent twice: another channel is named %q", name)
		}
		if out[i].Status != "" {
			out[i].At = opts.Now()
			answered[i] = true
			continue
		}
		seen[name] = true
		pending++
		go func(i int, ch Channel) {
			var d Delivery
			defer func() {
				if p := recover(); p != nil {
					d = Delivery{Status: StatusFailed, Reason: fmt.Sprintf("channel failed: %v", p)}
				}
				results <- result{i, d}
			}()
			cctx, ccancel := context.WithTimeout(ctx, opts.Timeout)
			defer ccancel()
			var err error
			d, err = ch.Send(cctx, msg)
			d = settle(d, err)
		}(i, ch)
	}
wait:
	for pending > 0 {
		select {
		case r := <-results:
			pending--
			answered[r.i] = true
			base := out[r.i]
			d := r.d
			d.Channel, d.Kind = base.Channel, base.Kind
			d.At = opts.Now()
			out[r.i] = d
		case <-ctx.Done():
			break wait
		}
	}
	now := opts.Now()
	for i := range out {
		d := &out[i]
		if !answered[i] {
			d.At = now
			d.Status = StatusFailed
			d.Reason = fmt.Sprintf("no answer within %s; it may yet arrive", opts.Deadline)
			if errors.Is(ctx.Err(), context.Canceled) {
				d.Reason = "interrupted before the channel answered; it may yet arrive"
			}
		}
		if d.Recipients == nil {
			d.Recipients = []string{}
		}
		if d.Status != StatusSent && opts.Reminder != "" {
			d.Reminder = opts.Reminder
		}
	}
	return out
}

// describe reads a channel's name and kind, surviving a nil channel or a
// nil pointer inside the interface.
func describe(ch Channel) (name, kind string, err error) {
	if ch == nil {
		return "", "", errors.New("no channel (nil)")
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("channel failed: %v", p)
		}
	}()
	return ch.Name(), ch.Kind(), nil
}

// Secrets returns every value the channels hold that a recorder must
// redact (webhook URLs, passwords), for the incident's redactor: a
// delivery never contains them, but an error from elsewhere might.
func Secrets(channels []Channel) []string {
	var out []string
	for _, ch := range channels {
		s, ok := ch.(interface{ Secrets() []string })
		if !ok {
			continue
		}
		func() {
			defer func() { _ = recover() }() // a nil pointer holds no secret
			for _, v := range s.Secrets() {
				if v != "" {
					out = append(out, v)
				}
			}
		}()
	}
	return out
}

// settle makes a channel's report consistent: a delivery with an error is
// never "sent", and one without a status but without an error is.
func settle(d Delivery, err error) Delivery {
	if err != nil && (d.Status == StatusSent || d.Status == "") {
		d.Status = StatusFailed
		var e *Error
		if errors.As(err, &e) {
			if e.Offline {
				d.Status = StatusNotSent
			}
			d.Reason = e.Reason
		} else {
			d.Reason = err.Error()
		}
	}
	if err == nil && d.Status == "" {
		d.Status = StatusSent
	}
	if d.Status != StatusSent && d.Reason == "" {
		d.Reason = "the channel gave no reason"
	}
	return d
}

// Outstanding returns, for each channel named in deliveries, its latest
// delivery when that one did not arrive, in the order the channels first
// appear. Deliveries from several attempts (a first one and retries) may
// be given together.
func Outstanding(deliveries []Delivery) []Delivery {
	latest := map[string]Delivery{}
	var order []string
	for _, d := range deliveries {
		if _, ok := latest[d.Channel]; !ok {
			order = append(order, d.Channel)
		}
		latest[d.Channel] = d
	}
	var out []Delivery
	for _, name := range order {
		if d := latest[name]; d.Status != StatusSent {
			out = append(out, d)
		}
	}
	return out
}

// Retry sends msg again through the channels whose latest delivery in
// previous did not arrive, and only those: a channel that took the message
// is not sent it twice. It returns the new attempts, one per channel
// retried; a channel named in previous that is no longer among channels is
// reported failed without an attempt. Like Deliver it never returns an
// error and keeps to opts.Deadline.
func Retry(ctx context.Context, msg Message, channels []Channel, previous []Delivery, opts Options) []Delivery {
	opts = opts.withDefaults()
	byName := map[string]Channel{}
	for _, ch := range channels {
		if ch != nil {
			byName[ch.Name()] = ch
		}
	}
	var again []Channel
	var missing []Delivery
	for _, d := range Outstanding(previous) {
		if ch, ok := byName[d.Channel]; ok {
			again = append(again, ch)
			continue
		}
		missing = append(missing, Delivery{
			Channel: d.Channel, Kind: d.Kind, Recipients: d.Recipients, Status: StatusFailed,
			Reason:   fmt.Sprintf("not retried: no channel named %q is configured now", d.Channel),
			Reminder: opts.Reminder, At: opts.Now(),
		})
	}
	return append(Deliver(ctx, msg, again, opts), missing...)
}

// offline classifies an error met before any byte of the message left
// this machine. It reports whether the network was missing (the name did
// not resolve, the connection was refused or timed out, the network or
// host was unreachable) and says so in plain words; addr is the host:port
// that was dialled.
func offline(err error, addr string) (bool, string) {
	var dns *net.DNSError
	switch {
	case errors.As(err, &dns):
		what := "cannot resolve " + dns.Name
		if dns.IsNotFound {
			what += " (no such host: offline, or a wrong host name)"
		} else {
			what += " (no DNS answer: offline?)"
		}
		return true, what
	case errors.Is(err, syscall.ECONNREFUSED):
		return true, "connection refused by " + addr
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.ENETDOWN):
		return true, "network unreachable (offline?) dialling " + addr
	case errors.Is(err, syscall.EHOSTUNREACH):
		return true, "host unreachable (offline?) dialling " + addr
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return true, "no connection to " + addr + " in time (offline?)"
	case errors.Is(err, context.Canceled):
		return true, "interrupted before connecting to " + addr
	}
	return false, ""
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// scrub removes secrets from a reason and keeps it to one short line.
func scrub(s string, secrets ...string) string {
	for _, sec := range secrets {
		if len(sec) >= 4 {
			s = strings.ReplaceAll(s, sec, Redacted)
		}
	}
	s = oneLine(s)
	if r := []rune(s); len(r) > 300 {
		s = string(r[:300]) + "…"
	}
	return s
}

// attempt bounds one channel's attempt: its timeout (DefaultTimeout when
// 0) within ctx. limit is the time the attempt really has, for messages.
func attempt(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc, time.Duration) {
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	limit := timeout
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < limit {
		limit = time.Until(dl)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	return ctx, cancel, limit
}
