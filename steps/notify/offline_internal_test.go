package notify

import (
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// TestOfflineClassification: the errors the network stack returns when a
// host is offline are not-sent; errors from a server that was reached are
// not. The errors are built the way net.Dialer returns them.
func TestOfflineClassification(t *testing.T) {
	dial := func(errno syscall.Errno) error {
		return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", errno)}
	}
	cases := []struct {
		name    string
		err     error
		offline bool
		reason  string
	}{
		{"refused", dial(syscall.ECONNREFUSED), true, "connection refused by mx:587"},
		{"network unreachable", dial(syscall.ENETUNREACH), true, "network unreachable (offline?) dialling mx:587"},
		{"network down", dial(syscall.ENETDOWN), true, "network unreachable (offline?) dialling mx:587"},
		{"host unreachable", dial(syscall.EHOSTUNREACH), true, "host unreachable (offline?) dialling mx:587"},
		{"no such host", &net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: "mx", IsNotFound: true}}, true, "cannot resolve mx (no such host: offline, or a wrong host name)"},
		{"no DNS server", &net.OpError{Op: "dial", Err: &net.DNSError{Err: "server misbehaving", Name: "mx", IsTemporary: true}}, true, "cannot resolve mx (no DNS answer: offline?)"},
		{"dial timeout", fmt.Errorf("dial: %w", context.DeadlineExceeded), true, "no connection to mx:587 in time (offline?)"},
		{"reset", dial(syscall.ECONNRESET), false, ""},
		{"bad certificate", &tlsErr{x509.UnknownAuthorityError{}}, false, ""},
	}
	for _, c := range cases {
		off, reason := offline(c.err, "mx:587")
		if off != c.offline || reason != c.reason {
			t.Errorf("%s: offline(%v) = %v, %q; want %v, %q", c.name, c.err, off, reason, c.offline, c.reason)
		}
	}
}

type tlsErr struct{ err error }

func (e *tlsErr) Error() string { return "tls: " + e.err.Error() }
func (e *tlsErr) Unwrap() error { return e.err }

// TestRetryAfter: both forms of the header, and nonsense.
func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 2, 6, 30, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"30":                            30 * time.Second,
		" 5 ":                           5 * time.Second,
		"Wed, 02 Dec 2026 06:31:30 GMT": 90 * time.Second,
		"Wed, 02 Dec 2026 06:00:00 GMT": 0,
		"-1":                            0,
		"soon":                          0,
		"":                              0,
	} {
		if got := retryAfter(in, now); got != want {
			t.Errorf("retryAfter(%q) = %s, want %s", in, got, want)
		}
	}
}
