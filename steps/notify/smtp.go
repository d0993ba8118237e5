package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// SMTP sends messages as mail through a submission server: STARTTLS on
// port 587 by default, or TLS from the first byte (port 465), then AUTH
// PLAIN when a username is set. It refuses to go on without TLS: an
// incident notification says what is broken, and the password must not
// cross a network in the clear. Only a server on this machine (a test
// server, a local relay) may be spoken to in plaintext, and only when
// AllowPlaintext says so.
type SMTP struct {
	Channel string   // the channel's name in the site configuration
	Host    string   // smtp.example.com
	Port    int      // 0 means 587 (465 with ImplicitTLS)
	From    string   // "drbook <drbook@example.com>"
	To      []string // one address a line: "ops@example.com", "Dana <dana@example.com>"
	// Username for AUTH PLAIN; empty means no authentication.
	Username string
	// Password is given by the caller from where PasswordFrom says it is
	// (the secret store, .env); it is never printed.
	Password Secret
	// PasswordFrom names where the password comes from ("env:SMTP_PASSWORD"),
	// for messages: drbook never stores the password itself.
	PasswordFrom string
	// ImplicitTLS speaks TLS from the first byte (SMTPS, port 465) instead
	// of STARTTLS; port 465 implies it.
	ImplicitTLS bool
	// AllowPlaintext lets a session without TLS go on, for a server on
	// this machine only (localhost, 127.0.0.1, ::1).
	AllowPlaintext bool
	// TLSConfig verifies the server; nil means the system's roots and
	// Host as the server name.
	TLSConfig *tls.Config `json:"-"`
	// LocalName is the name given in EHLO; "" means "localhost".
	LocalName string
	// Timeout limits one attempt; 0 means DefaultTimeout.
	Timeout time.Duration
	// Now dates the message and stamps the delivery; nil means time.Now.
	Now func() time.Time `json:"-"`
}

// Name returns the channel's name.
func (s *SMTP) Name() string { return s.Channel }

// Kind returns KindSMTP.
func (s *SMTP) Kind() string { return KindSMTP }

// Secrets returns the values a recorder must redact: the password.
func (s *SMTP) Secrets() []string { return []string{s.Password.Reveal()} }

func (s *SMTP) port() int {
	switch {
	case s.Port != 0:
		return s.Port
	case s.ImplicitTLS:
		return 465
	}
	return 587
}

func (s *SMTP) implicitTLS() bool { return s.ImplicitTLS || s.port() == 465 }

func (s *SMTP) addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.port())) }

// Validate checks the configuration without connecting. Its messages name
// the field at fault and never contain the password.
func (s *SMTP) Validate() error {
	_, _, err := s.addresses()
	return err
}

// addresses checks the configuration and parses From and To.
func (s *SMTP) addresses() (*mail.Address, []*mail.Address, error) {
	name := s.Channel
	switch {
	case strings.TrimSpace(s.Host) == "":
		return nil, nil, fmt.Errorf("smtp %s: no host", name)
	case strings.ContainsAny(s.Host, " /:\r\n") && net.ParseIP(s.Host) == nil:
		return nil, nil, fmt.Errorf("smtp %s: host %q is not a host name (give the port separately)", name, s.Host)
	case s.Port < 0 || s.Port > 65535:
		return nil, nil, fmt.Errorf("smtp %s: port %d out of range", name, s.Port)
	case s.AllowPlaintext && !isLoopback(s.Host):
		return nil, nil, fmt.Errorf("smtp %s: plaintext is allowed only for a server on this machine, not %s", name, s.Host)
	case s.Username != "" && s.Password == "":
		from := s.PasswordFrom
		if from == "" {
			from = "the secret store or .env"
		}
		return nil, nil, fmt.Errorf("smtp %s: no password for %s (it comes from %s)", name, s.Username, from)
	case s.Timeout < 0:
		return nil, nil, fmt.Errorf("smtp %s: negative timeout %s", name, s.Timeout)
	}
	from, err := mail.ParseAddress(s.From)
	if err != nil {
		return nil, nil, fmt.Errorf("smtp %s: from address %q: %v", name, s.From, err)
	}
	if len(s.To) == 0 {
		return nil, nil, fmt.Errorf("smtp %s: no recipients", name)
	}
	var to []*mail.Address
	for _, t := range s.To {
		a, err := mail.ParseAddress(t)
		if err != nil {
			return nil, nil, fmt.Errorf("smtp %s: recipient %q: %v", name, t, err)
		}
		to = append(to, a)
	}
	return from, to, nil
}

// Send mails msg to every recipient. The delivery is sent when the server
// accepts the message for at least one recipient and refuses none; failed
// when it refuses one (the others still get it) or anything on the way
// (TLS, authentication, the sender); not-sent when no connection was made.
func (s *SMTP) Send(ctx context.Context, msg Message) (Delivery, error) {
	now := s.Now
	if now == nil {
		now = time.Now
	}
	d := Delivery{Channel: s.Channel, Kind: KindSMTP, Recipients: []string{}}
	for _, t := range s.To {
		if a, err := mail.ParseAddress(t); err == nil {
			d.Recipients = append(d.Recipients, a.Address)
		} else {
			d.Recipients = append(d.Recipients, oneLine(t))
		}
	}
	fail := func(offline bool, reason string) (Delivery, error) {
		d.Status = StatusFailed
		if offline {
			d.Status = StatusNotSent
		}
		d.Reason = scrub(reason, s.Secrets()...)
		d.At = now()
		return d, &Error{Channel: s.Channel, Offline: offline, Reason: d.Reason}
	}
	from, to, err := s.addresses()
	if err != nil {
		return fail(false, err.Error())
	}
	ctx, cancel, limit := attempt(ctx, s.Timeout)
	defer cancel()

	addr := s.addr()
	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		if off, reason := offline(err, addr); off {
			return fail(true, reason)
		}
		return fail(false, "cannot connect to "+addr+": "+err.Error())
	}
	// net/smtp knows no contexts: the deadline and a cancellation both
	// reach it through the connection.
	tcp := conn
	defer tcp.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = tcp.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { tcp.Close() })
	defer stop()
	step := "greeting"
	lost := func(err error) (Delivery, error) {
		if ctx.Err() != nil || isTimeout(err) {
			if errors.Is(ctx.Err(), context.Canceled) {
				return fail(false, fmt.Sprintf("interrupted during %s with %s", step, addr))
			}
			return fail(false, fmt.Sprintf("no answer within %s (during %s with %s)", limit.Round(time.Millisecond), step, addr))
		}
		return fail(false, step+": "+smtpReason(err))
	}

	tlsConf := s.tlsConfig()
	if s.implicitTLS() {
		step = "TLS handshake"
		tc := tls.Client(conn, tlsConf)
		if err := tc.HandshakeContext(ctx); err != nil {
			return lost(err)
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, s.Host)
	if err != nil {
		return lost(err)
	}
	defer c.Close()
	step = "EHLO"
	local := s.LocalName
	if local == "" {
		local = "localhost"
	}
	if err := c.Hello(local); err != nil {
		return lost(err)
	}
	if !s.implicitTLS() {
		if ok, _ := c.Extension("STARTTLS"); ok {
			step = "STARTTLS"
			if err := c.StartTLS(tlsConf); err != nil {
				return lost(err)
			}
		} else if !s.AllowPlaintext {
			return fail(false, addr+" does not offer STARTTLS: refusing to send in the clear")
		}
	}
	if s.Username != "" {
		step = "AUTH"
		ok, mechs := c.Extension("AUTH")
		if !ok || !hasWord(mechs, "PLAIN") {
			offered := "no AUTH"
			if ok {
				offered = "AUTH " + mechs
			}
			return fail(false, addr+" does not offer AUTH PLAIN (it offers "+offered+")")
		}
		if err := c.Auth(smtp.PlainAuth("", s.Username, s.Password.Reveal(), s.Host)); err != nil {
			return lost(err)
		}
	}
	step = "MAIL FROM"
	if err := c.Mail(from.Address); err != nil {
		return lost(err)
	}
	var accepted []string
	var refused []string
	for _, a := range to {
		step = "RCPT TO " + a.Address
		if err := c.Rcpt(a.Address); err != nil {
			if ctx.Err() != nil || isTimeout(err) {
				return lost(err)
			}
			refused = append(refused, a.Address+" ("+smtpReason(err)+")")
			continue
		}
		accepted = append(accepted, a.Address)
	}
	if len(accepted) == 0 {
		_ = c.Reset()
		_ = c.Quit()
		return fail(false, "server refused every recipient: "+strings.Join(refused, "; "))
	}
	step = "DATA"
	wc, err := c.Data()
	if err != nil {
		return lost(err)
	}
	raw, err := s.Compose(msg, from, to, now())
	if err != nil {
		return fail(false, err.Error())
	}
	if _, err := wc.Write(raw); err != nil {
		return lost(err)
	}
	step = "end of DATA"
	if err := wc.Close(); err != nil {
		if ctx.Err() != nil || isTimeout(err) {
			return fail(false, fmt.Sprintf("no answer within %s after the message was sent; it may have arrived", limit.Round(time.Millisecond)))
		}
		return lost(err)
	}
	_ = c.Quit() // the message is accepted; a failing QUIT changes nothing
	d.At = now()
	if len(refused) > 0 {
		d.Status = StatusFailed
		d.Reason = scrub("sent to "+strings.Join(accepted, ", ")+" only; refused "+strings.Join(refused, "; "), s.Secrets()...)
		return d, &Error{Channel: s.Channel, Reason: d.Reason}
	}
	d.Status = StatusSent
	d.Detail = "accepted by " + addr
	return d, nil
}

func (s *SMTP) tlsConfig() *tls.Config {
	var c *tls.Config
	if s.TLSConfig != nil {
		c = s.TLSConfig.Clone()
	} else {
		c = &tls.Config{}
	}
	if c.ServerName == "" {
		c.ServerName = s.Host
	}
	if c.MinVersion == 0 {
		c.MinVersion = tls.VersionTLS12
	}
	return c
}

// smtpReason is an SMTP error as one line: the server's code and text when
// it answered.
func smtpReason(err error) string {
	var te *textproto.Error
	if errors.As(err, &te) {
		return fmt.Sprintf("%d %s", te.Code, oneLine(te.Msg))
	}
	return err.Error()
}

func hasWord(list, word string) bool {
	for _, w := range strings.Fields(list) {
		if strings.EqualFold(w, word) {
			return true
		}
	}
	return false
}

// Compose renders msg as an RFC 5322 message from from to to, dated now:
// CRLF line ends, a Message-ID, the subject as a MIME encoded-word when it
// is not ASCII, the drill prefix for a drill, and the body as UTF-8
// quoted-printable so no line is too long and no byte is lost. Headers
// X-Drbook-Incident and X-Drbook-Severity let a mail rule sort them.
func (s *SMTP) Compose(msg Message, from *mail.Address, to []*mail.Address, now time.Time) ([]byte, error) {
	id, err := messageID(msg.IncidentID, from.Address, now)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	h := func(name, value string) { b.WriteString(name + ": " + value + "\r\n") }
	h("Date", now.Format(time.RFC1123Z))
	h("From", from.String())
	var rcpt []string
	for _, a := range to {
		rcpt = append(rcpt, a.String())
	}
	h("To", strings.Join(rcpt, ",\r\n "))
	b.WriteString(subjectHeader(msg.Title()))
	h("Message-ID", id)
	h("MIME-Version", "1.0")
	h("Content-Type", "text/plain; charset=utf-8")
	h("Content-Transfer-Encoding", "quoted-printable")
	h("Auto-Submitted", "auto-generated")
	if msg.IncidentID != "" {
		h("X-Drbook-Incident", oneLine(msg.IncidentID))
	}
	if msg.Severity > 0 {
		h("X-Drbook-Severity", strconv.Itoa(msg.Severity))
		if msg.Severity == 1 {
			h("Importance", "high")
		}
	}
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	body := msg.Text()
	if !strings.HasSuffix(body, "\n") {
		body += "\n"
	}
	if _, err := qp.Write([]byte(body)); err != nil {
		return nil, fmt.Errorf("compose: %w", err)
	}
	if err := qp.Close(); err != nil {
		return nil, fmt.Errorf("compose: %w", err)
	}
	return b.Bytes(), nil
}

// subjectHeader is the Subject header line: the value as RFC 2047
// encoded-words when it is not plain ASCII, folded at spaces so lines stay
// within 78 octets where the words allow (RFC 5322 2.1.1); an encoded-word
// is at most 75, so a fold straight after the colon makes room for it.
func subjectHeader(v string) string {
	var b strings.Builder
	b.WriteString("Subject:")
	line := len("Subject:")
	for _, w := range strings.Split(mime.QEncoding.Encode("utf-8", v), " ") {
		if line+1+len(w) > 78 {
			b.WriteString("\r\n")
			line = 0
		}
		b.WriteString(" " + w)
		line += 1 + len(w)
	}
	return b.String() + "\r\n"
}

// messageID makes a unique Message-ID in the sender's domain.
func messageID(incident, from string, now time.Time) (string, error) {
	var r [8]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", fmt.Errorf("message id: %w", err)
	}
	domain := "drbook.invalid"
	if _, dom, ok := strings.Cut(from, "@"); ok && dom != "" {
		domain = dom
	}
	local := "drbook." + strconv.FormatInt(now.UnixNano(), 36) + "." + hex.EncodeToString(r[:])
	if id := idSafe(incident); id != "" {
		local = id + "." + local
	}
	return "<" + local + "@" + domain + ">", nil
}

// idSafe keeps the characters a Message-ID's left part may hold.
func idSafe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		}
		return -1
	}, s)
}
