// Package notify delivers an incident's communications through the
// channels a site configures: a Slack-compatible webhook and SMTP mail.
//
// Its one job is delivery, and delivery never stands in the incident's way.
// Deliver tries every channel at once, gives each a time limit and the whole
// attempt an overall deadline, and returns one Delivery per attempt instead
// of an error: sent, failed (the server answered, and said no, or stopped
// answering) or not-sent (the network was not there: the name did not
// resolve, the connection was refused, the network was unreachable). A
// delivery that did not arrive carries the caller's reminder ("not sent:
// phone the on-call") and Retry sends again to those channels only.
//
// Secrets stay out of everything printable. A webhook URL is itself a
// credential, so deliveries, errors and formatted values show only its
// scheme and host; an SMTP password is a Secret, which prints as
// [REDACTED] under every fmt verb and in JSON. Secrets returns the values a
// recorder must redact besides.
//
// Mail goes out through the standard library's net/smtp rather than
// go-smtp's client: it is enough for one message over STARTTLS or implicit
// TLS with AUTH PLAIN, it adds nothing to the binary a jump host must
// carry, and the tests then run drbook's client against an independent
// server implementation (go-smtp's) instead of the same code on both ends.
// net/smtp's own PLAIN mechanism also refuses to send a password over an
// unencrypted connection to anything but this machine, a second guard
// behind this package's own.
//
// The package is a leaf: it imports only the standard library, so the
// notify step, the comms command and the TUI can share it without importing
// one another.
package notify
