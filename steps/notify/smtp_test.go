package notify_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/drbook/drbook/steps/notify"
)

const smtpPass = "s3cret-smtp-pass"

func mailChannel(ms *mailServer, to ...string) *notify.SMTP {
	if len(to) == 0 {
		to = []string{"ops@example.com", "Dana Reyes <dana@example.com>"}
	}
	return &notify.SMTP{
		Channel: "ops-mail", Host: ms.Host, Port: ms.Port,
		From: "drbook <drbook@example.com>", To: to,
		Username: "drbook@example.com", Password: smtpPass, PasswordFrom: "env:SMTP_PASSWORD",
		TLSConfig: &tls.Config{RootCAs: ms.Pool},
		Now:       clock,
	}
}

var drillMsg = notify.Message{
	Subject:    "Datenbank ausgefallen – Severity 1",
	Body:       "SUBJECT: Datenbank ausgefallen – Severity 1\n\nIncident ID: DRILL-20261202-0630\nStatus: RESOLVING über alles\n.leading dot stays\n",
	Severity:   1,
	IncidentID: "DRILL-20261202-0630",
	Drill:      true,
}

// TestSMTPSendsOverSTARTTLSWithAuth: the server receives exactly the
// message drbook composed, over STARTTLS, after AUTH PLAIN as the
// configured user, for both recipients.
func TestSMTPSendsOverSTARTTLSWithAuth(t *testing.T) {
	ms := startMailServer(t, serverOpts{})
	ch := mailChannel(ms)
	d, err := ch.Send(context.Background(), drillMsg)
	if err != nil || d.Status != notify.StatusSent {
		t.Fatalf("Send = %+v, %v", d, err)
	}
	if got, want := strings.Join(d.Recipients, ","), "ops@example.com,dana@example.com"; got != want {
		t.Errorf("recipients %q, want %q", got, want)
	}
	if !d.At.Equal(fixedNow) {
		t.Errorf("At = %v", d.At)
	}
	msgs := ms.Messages()
	if len(msgs) != 1 {
		t.Fatalf("server received %d messages", len(msgs))
	}
	got := msgs[0]
	if !got.TLS {
		t.Error("the message went in the clear: STARTTLS was not used")
	}
	if got.Identity != "" || got.Username != "drbook@example.com" || got.Password != smtpPass {
		t.Errorf("auth identity=%q user=%q pass=%q", got.Identity, got.Username, got.Password)
	}
	if got.From != "drbook@example.com" {
		t.Errorf("MAIL FROM %q", got.From)
	}
	if strings.Join(got.To, ",") != "ops@example.com,dana@example.com" {
		t.Errorf("RCPT TO %q", got.To)
	}

	idRE := regexp.MustCompile(`(?m)^Message-ID: (<DRILL-20261202-0630\.drbook\.[0-9a-z]+\.[0-9a-f]{16}@example\.com>)\r$`)
	m := idRE.FindSubmatch(got.Data)
	if m == nil {
		t.Fatalf("no well-formed Message-ID in:\n%s", got.Data)
	}
	want := "Date: Wed, 02 Dec 2026 06:30:00 +0000\r\n" +
		"From: \"drbook\" <drbook@example.com>\r\n" +
		"To: <ops@example.com>,\r\n \"Dana Reyes\" <dana@example.com>\r\n" +
		"Subject: =?utf-8?q?[DRILL]_Datenbank_ausgefallen_=E2=80=93_Severity_1?=\r\n" +
		"Message-ID: " + string(m[1]) + "\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		"Content-Transfer-Encoding: quoted-printable\r\n" +
		"Auto-Submitted: auto-generated\r\n" +
		"X-Drbook-Incident: DRILL-20261202-0630\r\n" +
		"X-Drbook-Severity: 1\r\n" +
		"Importance: high\r\n" +
		"\r\n" +
		"Incident ID: DRILL-20261202-0630\r\n" +
		"Status: RESOLVING =C3=BCber alles\r\n" +
		".leading dot stays\r\n"
	if string(got.Data) != want {
		t.Errorf("server received:\n%q\nwant:\n%q", got.Data, want)
	}

	// A mail reader's view, through the standard decoders.
	pm, err := mail.ReadMessage(bytes.NewReader(got.Data))
	if err != nil {
		t.Fatal(err)
	}
	subj, err := new(mime.WordDecoder).DecodeHeader(pm.Header.Get("Subject"))
	if err != nil || subj != "[DRILL] Datenbank ausgefallen – Severity 1" {
		t.Errorf("decoded subject %q, %v", subj, err)
	}
	if _, err := pm.Header.Date(); err != nil {
		t.Errorf("Date header: %v", err)
	}
	if to, err := pm.Header.AddressList("To"); err != nil || len(to) != 2 || to[1].Name != "Dana Reyes" {
		t.Errorf("To header: %v, %v", to, err)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(pm.Body))
	if err != nil {
		t.Fatal(err)
	}
	if b := strings.ReplaceAll(string(body), "\r\n", "\n"); b != "Incident ID: DRILL-20261202-0630\nStatus: RESOLVING über alles\n.leading dot stays\n" {
		t.Errorf("decoded body %q", b)
	}
}

// TestSMTPMessageIDsDiffer: two sends of the same message in the same
// instant are two messages to a mail system, not a duplicate it drops.
func TestSMTPMessageIDsDiffer(t *testing.T) {
	ms := startMailServer(t, serverOpts{})
	ch := mailChannel(ms, "ops@example.com")
	for i := 0; i < 2; i++ {
		if d, err := ch.Send(context.Background(), drillMsg); err != nil {
			t.Fatalf("send %d: %+v %v", i, d, err)
		}
	}
	var ids []string
	for _, m := range ms.Messages() {
		pm, err := mail.ReadMessage(bytes.NewReader(m.Data))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, pm.Header.Get("Message-ID"))
	}
	if len(ids) != 2 || ids[0] == ids[1] || ids[0] == "" {
		t.Errorf("message ids %q", ids)
	}
}

// TestSMTPLongAndHostileBody: a long line is soft-broken so no line
// passes 78 octets, a line of a single dot does not end the data early, a
// subject with a line break cannot add a header, and the body decodes back
// unchanged.
func TestSMTPLongAndHostileBody(t *testing.T) {
	ms := startMailServer(t, serverOpts{})
	ch := mailChannel(ms, "ops@example.com")
	long := "Actions Taken: " + strings.Repeat("restore verified on the standby – ", 8)
	body := "Status: RESOLVING\n" + long + "\n.\nstill here\r\nCRLF line\n"
	msg := notify.Message{Subject: "Outage\r\nBcc: attacker@example.net", Body: body, Severity: 2, IncidentID: "INC-1"}
	if d, err := ch.Send(context.Background(), msg); err != nil {
		t.Fatalf("Send = %+v, %v", d, err)
	}
	got := ms.Messages()[0]
	for _, line := range strings.Split(string(got.Data), "\r\n") {
		if len(line) > 78 {
			t.Errorf("line of %d octets: %q", len(line), line)
		}
	}
	pm, err := mail.ReadMessage(bytes.NewReader(got.Data))
	if err != nil {
		t.Fatal(err)
	}
	if pm.Header.Get("Bcc") != "" || pm.Header.Get("Subject") != "Outage Bcc: attacker@example.net" {
		t.Errorf("subject %q, bcc %q", pm.Header.Get("Subject"), pm.Header.Get("Bcc"))
	}
	if pm.Header.Get("Importance") != "" {
		t.Error("a severity 2 message marked high importance")
	}
	dec, _ := io.ReadAll(quotedprintable.NewReader(pm.Body))
	if want := strings.ReplaceAll(body, "\r\n", "\n"); strings.ReplaceAll(string(dec), "\r\n", "\n") != want {
		t.Errorf("decoded body %q\nwant %q", dec, want)
	}
}

// TestSMTPLongSubjects: long subjects, ASCII or not, are folded so no
// header line passes 78 octets where spaces allow, and decode back whole.
func TestSMTPLongSubjects(t *testing.T) {
	ms := startMailServer(t, serverOpts{})
	ch := mailChannel(ms, "ops@example.com")
	subjects := []string{
		"[URGENT] QuantAI System Incident - Severity 1 - trading database unreadable on the primary host",
		"Störung: Datenbank auf dem Primärsystem ausgefallen – Wiederherstellung aus der Sicherung läuft",
	}
	for i, subj := range subjects {
		if d, err := ch.Send(context.Background(), notify.Message{Subject: subj, Body: "x"}); err != nil {
			t.Fatalf("Send = %+v, %v", d, err)
		}
		data := ms.Messages()[i].Data
		head, _, _ := strings.Cut(string(data), "\r\n\r\n")
		for _, line := range strings.Split(head, "\r\n") {
			if len(line) > 78 {
				t.Errorf("header line of %d octets: %q", len(line), line)
			}
		}
		pm, err := mail.ReadMessage(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		got, err := new(mime.WordDecoder).DecodeHeader(pm.Header.Get("Subject"))
		if err != nil || got != subj {
			t.Errorf("subject decodes to %q, %v; want %q", got, err, subj)
		}
	}
}

// TestSMTPImplicitTLS: port 465 style, TLS from the first byte.
func TestSMTPImplicitTLS(t *testing.T) {
	ms := startMailServer(t, serverOpts{implicitTLS: true})
	ch := mailChannel(ms, "ops@example.com")
	ch.ImplicitTLS = true
	if d, err := ch.Send(context.Background(), drillMsg); err != nil || d.Status != notify.StatusSent {
		t.Fatalf("Send = %+v, %v", d, err)
	}
	if m := ms.Messages(); len(m) != 1 || !m[0].TLS || m[0].Username != "drbook@example.com" {
		t.Errorf("server received %+v", m)
	}
}

// TestSMTPRefusesPlaintext: a server that offers no STARTTLS gets neither
// the password nor the message, unless plaintext is allowed, and that is
// allowed only for a server on this machine.
func TestSMTPRefusesPlaintext(t *testing.T) {
	ms := startMailServer(t, serverOpts{noTLS: true, insecureAuth: true})
	ch := mailChannel(ms, "ops@example.com")
	d, err := ch.Send(context.Background(), drillMsg)
	if err == nil || d.Status != notify.StatusFailed || !strings.Contains(d.Reason, "does not offer STARTTLS") {
		t.Fatalf("Send = %+v, %v", d, err)
	}
	if a := ms.Auths(); len(a) != 0 {
		t.Fatalf("the password went in the clear: %+v", a)
	}
	if m := ms.Messages(); len(m) != 0 {
		t.Fatalf("the message went in the clear: %+v", m)
	}

	ch.AllowPlaintext = true
	if d, err := ch.Send(context.Background(), drillMsg); err != nil || d.Status != notify.StatusSent {
		t.Fatalf("with AllowPlaintext on 127.0.0.1: %+v, %v", d, err)
	}
	if m := ms.Messages(); len(m) != 1 || m[0].TLS || m[0].Password != smtpPass {
		t.Errorf("server received %+v", m)
	}

	remote := *ch
	remote.Host = "smtp.example.com"
	if err := remote.Validate(); err == nil || !strings.Contains(err.Error(), "only for a server on this machine") {
		t.Errorf("plaintext to a remote host: %v", err)
	}
}

// TestSMTPUntrustedCertificate: a server whose certificate the client
// does not trust gets nothing, and the reason says why.
func TestSMTPUntrustedCertificate(t *testing.T) {
	ms := startMailServer(t, serverOpts{})
	ch := mailChannel(ms, "ops@example.com")
	ch.TLSConfig = nil // the system roots do not know the test CA
	d, err := ch.Send(context.Background(), drillMsg)
	if err == nil || d.Status != notify.StatusFailed || !strings.Contains(d.Reason, "STARTTLS") || !strings.Contains(d.Reason, "certificate") {
		t.Fatalf("Send = %+v, %v", d, err)
	}
	if len(ms.Auths())+len(ms.Messages()) != 0 {
		t.Error("something was sent over an unverified connection")
	}
}

// TestSMTPRejectedRecipients: a recipient the server refuses makes the
// delivery failed with the server's answer; when it refuses only some,
// the others still get the message.
func TestSMTPRejectedRecipients(t *testing.T) {
	ms := startMailServer(t, serverOpts{refuse: []string{"gone@example.com", "left@example.com"}})

	ch := mailChannel(ms, "gone@example.com", "left@example.com")
	d, err := ch.Send(context.Background(), drillMsg)
	if err == nil || d.Status != notify.StatusFailed {
		t.Fatalf("Send = %+v, %v", d, err)
	}
	for _, want := range []string{"refused every recipient", "gone@example.com (550 5.1.1 mailbox unavailable: no such user)", "left@example.com"} {
		if !strings.Contains(d.Reason, want) {
			t.Errorf("reason %q lacks %q", d.Reason, want)
		}
	}
	if m := ms.Messages(); len(m) != 0 {
		t.Errorf("server took a message with no recipient: %+v", m)
	}

	ch = mailChannel(ms, "ops@example.com", "gone@example.com")
	d, err = ch.Send(context.Background(), drillMsg)
	if err == nil || d.Status != notify.StatusFailed || !strings.Contains(d.Reason, "sent to ops@example.com only; refused gone@example.com (550") {
		t.Fatalf("Send = %+v, %v", d, err)
	}
	if m := ms.Messages(); len(m) != 1 || strings.Join(m[0].To, ",") != "ops@example.com" {
		t.Errorf("server received %+v", m)
	}
}

// TestSMTPWrongPassword: authentication refused is failed with the
// server's answer, and the password is in no part of the delivery.
func TestSMTPWrongPassword(t *testing.T) {
	ms := startMailServer(t, serverOpts{})
	ch := mailChannel(ms, "ops@example.com")
	ch.Password = "wrong-password-here"
	d, err := ch.Send(context.Background(), drillMsg)
	if err == nil || d.Status != notify.StatusFailed || !strings.Contains(d.Reason, "AUTH: 535") {
		t.Fatalf("Send = %+v, %v", d, err)
	}
	b, _ := json.Marshal(d)
	if strings.Contains(string(b)+err.Error(), "wrong-password-here") {
		t.Errorf("password leaked: %s / %v", b, err)
	}
	if len(ms.Messages()) != 0 {
		t.Error("message accepted without authentication")
	}
}

// TestSMTPOffline: no server listening is not-sent: nothing left this
// machine, and the operator must phone.
func TestSMTPOffline(t *testing.T) {
	host, port := closedAddr(t)
	ch := &notify.SMTP{Channel: "ops-mail", Host: host, Port: port, From: "drbook@example.com", To: []string{"ops@example.com"}, Now: clock}
	d, err := ch.Send(context.Background(), drillMsg)
	if err == nil || d.Status != notify.StatusNotSent || !strings.Contains(d.Reason, "connection refused by 127.0.0.1:"+itoa(port)) {
		t.Fatalf("Send = %+v, %v", d, err)
	}
}

// TestSMTPServerSilent: a server that accepts the connection and never
// greets is failed when the channel's time runs out.
func TestSMTPServerSilent(t *testing.T) {
	host, port := silentServer(t)
	ch := &notify.SMTP{Channel: "ops-mail", Host: host, Port: port, From: "drbook@example.com", To: []string{"ops@example.com"}, Timeout: time.Second, Now: clock}
	d, err := ch.Send(context.Background(), drillMsg)
	if err == nil || d.Status != notify.StatusFailed || !strings.Contains(d.Reason, "no answer within") || !strings.Contains(d.Reason, "greeting") {
		t.Fatalf("Send = %+v, %v", d, err)
	}
}

// TestSMTPConfigurationErrors: bad configuration is failed before any
// connection, with a message naming the field.
func TestSMTPConfigurationErrors(t *testing.T) {
	base := notify.SMTP{Channel: "m", Host: "smtp.example.com", From: "drbook@example.com", To: []string{"ops@example.com"}}
	cases := []struct {
		name string
		edit func(*notify.SMTP)
		want string
	}{
		{"no host", func(s *notify.SMTP) { s.Host = "" }, "no host"},
		{"host with port", func(s *notify.SMTP) { s.Host = "smtp.example.com:587" }, "give the port separately"},
		{"bad from", func(s *notify.SMTP) { s.From = "[Email]" }, `from address "[Email]"`},
		{"no recipients", func(s *notify.SMTP) { s.To = nil }, "no recipients"},
		{"bad recipient", func(s *notify.SMTP) { s.To = []string{"ops@example.com", "[Name] - [Phone]"} }, `recipient "[Name] - [Phone]"`},
		{"user without password", func(s *notify.SMTP) { s.Username = "u"; s.PasswordFrom = "env:SMTP_PASSWORD" }, "no password for u (it comes from env:SMTP_PASSWORD)"},
		{"port", func(s *notify.SMTP) { s.Port = 70000 }, "port 70000"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := base
			c.edit(&s)
			err := s.Validate()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Validate = %v, want %q", err, c.want)
			}
			d, err := s.Send(context.Background(), drillMsg)
			if err == nil || d.Status != notify.StatusFailed || !strings.Contains(d.Reason, c.want) {
				t.Errorf("Send = %+v, %v", d, err)
			}
		})
	}
	if err := base.Validate(); err != nil {
		t.Errorf("good configuration refused: %v", err)
	}
}

// TestSMTPPasswordNeverPrinted: every way of printing the channel hides
// the password.
func TestSMTPPasswordNeverPrinted(t *testing.T) {
	ch := &notify.SMTP{Channel: "m", Host: "smtp.example.com", Username: "u", Password: "hunter2-very-secret"}
	b, err := json.Marshal(ch)
	if err != nil {
		t.Fatal(err)
	}
	out := string(b)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X"} {
		out += fmt.Sprintf(verb, ch) + fmt.Sprintf(verb, *ch) + fmt.Sprintf(verb, ch.Password)
	}
	if strings.Contains(out, "hunter2") || strings.Contains(out, fmt.Sprintf("%x", "hunter2")) {
		t.Errorf("password printed: %s", out)
	}
	if !strings.Contains(out, "[REDACTED]") {
		t.Errorf("no redaction marker in %s", out)
	}
	if ch.Password.Reveal() != "hunter2-very-secret" {
		t.Error("Reveal lost the value")
	}
}
