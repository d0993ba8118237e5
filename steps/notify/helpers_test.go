package notify_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"math/big"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
)

// fixedNow is the clock of every test: deliveries and Date headers are
// stamped with it.
var fixedNow = time.Date(2026, 12, 2, 6, 30, 0, 0, time.UTC)

func clock() time.Time { return fixedNow }

// mustCert makes a self-signed certificate for 127.0.0.1 and localhost and
// a pool that trusts it, as a site with its own CA would have.
func mustCert(tb testing.TB) (tls.Certificate, *x509.CertPool) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mail.test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1"), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// received is one message as the SMTP server took it.
type received struct {
	TLS      bool // the session was encrypted when MAIL FROM came
	Identity string
	Username string
	Password string
	From     string
	To       []string
	Data     []byte
}

// mailServer is go-smtp's server on 127.0.0.1, with STARTTLS (or implicit
// TLS), AUTH PLAIN for one user, and recipients it can be told to refuse.
type mailServer struct {
	Host string
	Port int
	Pool *x509.CertPool // trusts the server's certificate

	mu       sync.Mutex
	messages []received
	auths    []received // every AUTH attempt, good or bad
	refuse   map[string]bool
	user     string
	pass     string
}

type serverOpts struct {
	noTLS        bool // offer no STARTTLS (a plaintext server)
	implicitTLS  bool // TLS from the first byte, as on port 465
	insecureAuth bool // offer AUTH without TLS
	refuse       []string
}

func startMailServer(tb testing.TB, o serverOpts) *mailServer {
	tb.Helper()
	cert, pool := mustCert(tb)
	ms := &mailServer{Host: "127.0.0.1", Pool: pool, refuse: map[string]bool{}, user: "drbook@example.com", pass: "s3cret-smtp-pass"}
	for _, r := range o.refuse {
		ms.refuse[r] = true
	}
	srv := gosmtp.NewServer(gosmtp.BackendFunc(func(c *gosmtp.Conn) (gosmtp.Session, error) {
		return &mailSession{srv: ms, conn: c}, nil
	}))
	srv.Domain = "mail.test"
	srv.AllowInsecureAuth = o.insecureAuth
	srv.ErrorLog = log.New(io.Discard, "", 0)
	tlsConf := &tls.Config{Certificates: []tls.Certificate{cert}}
	if !o.noTLS {
		srv.TLSConfig = tlsConf
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	if o.implicitTLS {
		l = tls.NewListener(l, tlsConf)
	}
	ms.Port = l.Addr().(*net.TCPAddr).Port
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(l)
	}()
	tb.Cleanup(func() {
		srv.Close()
		<-done
	})
	return ms
}

func (ms *mailServer) Messages() []received {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return append([]received(nil), ms.messages...)
}

func (ms *mailServer) Auths() []received {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return append([]received(nil), ms.auths...)
}

type mailSession struct {
	srv  *mailServer
	conn *gosmtp.Conn
	cur  received
	auth bool
}

func (s *mailSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *mailSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		s.srv.mu.Lock()
		s.srv.auths = append(s.srv.auths, received{Identity: identity, Username: username, Password: password})
		s.srv.mu.Unlock()
		if username != s.srv.user || password != s.srv.pass {
			return gosmtp.ErrAuthFailed
		}
		s.auth = true
		s.cur.Identity, s.cur.Username, s.cur.Password = identity, username, password
		return nil
	}), nil
}

func (s *mailSession) Mail(from string, _ *gosmtp.MailOptions) error {
	_, s.cur.TLS = s.conn.TLSConnectionState()
	s.cur.From = from
	return nil
}

func (s *mailSession) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	if s.srv.refuse[to] {
		return &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1}, Message: "mailbox unavailable: no such user"}
	}
	s.cur.To = append(s.cur.To, to)
	return nil
}

func (s *mailSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.Data = b
	s.srv.mu.Lock()
	s.srv.messages = append(s.srv.messages, s.cur)
	s.srv.mu.Unlock()
	return nil
}

func (s *mailSession) Reset() {
	id, user, pass := s.cur.Identity, s.cur.Username, s.cur.Password
	s.cur = received{Identity: id, Username: user, Password: pass}
}

func (s *mailSession) Logout() error { return nil }

// closedAddr returns a 127.0.0.1 address nothing listens on: a listener
// is opened and closed, so a connection to it is refused.
func closedAddr(tb testing.TB) (string, int) {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return "127.0.0.1", port
}

// silentServer accepts connections and never says a word, like a server
// that hangs; it closes them when the test ends.
func silentServer(tb testing.TB) (string, int) {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	tb.Cleanup(func() {
		l.Close()
		<-done
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return "127.0.0.1", l.Addr().(*net.TCPAddr).Port
}

func itoa(n int) string { return strconv.Itoa(n) }
