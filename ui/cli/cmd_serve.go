package cli

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"github.com/drbook/drbook/ui"
	"github.com/drbook/drbook/ui/serve"
)

const serveUsage = `
Usage: drbook serve --authorized-keys FILE [--listen ADDR] [--host-key FILE]
                    [--max-sessions N] [--idle-timeout D] [flags]

Serves the TUI over SSH so a team works one incident together: each
connection gets its own screen on the shared state directory, every event
is recorded with the SSH user, key fingerprint and client address, and a
change made on one screen shows on the others within a second.

Public-key authentication only. FILE is in OpenSSH authorized_keys format;
a key's role is in its options:
  environment="DRBOOK_ROLE=operator" ssh-ed25519 AAAA... alice
  environment="DRBOOK_ROLE=observer" ssh-ed25519 AAAA... manager
Operators act; observers read (timeline, report, comms) and the server
refuses their changes. A key without DRBOOK_ROLE is an observer. from=
is enforced as sshd does (addresses, CIDR, !); a no-pty key gets no
screen. FILE is read again when it changes: a removed key's session ends.

The host key (default STATE_DIR/serve_host_ed25519_key) is made on first
use, mode 0600; its fingerprint is printed at start: compare it with what
ssh shows on first connection. SIGTERM or Ctrl-C stops the server: who was
connected is recorded as a note on each incident they had open and in
STATE_DIR/serve.log, and running actions are interrupted and recorded.

Flags:
  --listen ADDR            address to listen on (default 127.0.0.1:2222)
  --authorized-keys FILE   keys allowed in, with their roles (required)
  --host-key FILE          the server's private key (made if missing)
  --max-sessions N         sessions at once (default 16)
  --idle-timeout D         close a session with no keystroke for D
                           (default 30m; 0: never)
  --auth-failures N        refused keys from one address per minute before
                           it is refused outright (default 20)
  --runbooks DIR, --state-dir DIR, --live --root DIR, --no-color
                           as for drbook

Exit codes: 0 stopped cleanly (SIGTERM, Ctrl-C), 1 the server failed,
2 usage error or unreadable keys.
`

func runServe(ctx context.Context, iox *IO, args []string) error {
	var o tuiOptions
	var listen, keysPath, hostKey string
	var maxSessions, authFailures int
	var idle time.Duration
	fs := newFlagSet("serve", serveUsage, iox)
	fs.StringArrayVar(&o.runbooks, "runbooks", nil, "directory of extra runbooks (repeatable)")
	fs.StringVar(&o.stateDir, "state-dir", "", "state directory")
	fs.BoolVar(&o.live, "live", false, "allow LIVE incidents against --root")
	fs.StringVar(&o.root, "root", "", "the real system directory (with --live)")
	fs.BoolVar(&o.noColor, "no-color", false, "no colour")
	fs.StringVar(&listen, "listen", "127.0.0.1:2222", "address to listen on")
	fs.StringVar(&keysPath, "authorized-keys", "", "authorized_keys file with roles")
	fs.StringVar(&hostKey, "host-key", "", "host key file")
	fs.IntVar(&maxSessions, "max-sessions", 16, "sessions at once")
	fs.DurationVar(&idle, "idle-timeout", 30*time.Minute, "idle session timeout")
	fs.IntVar(&authFailures, "auth-failures", 20, "refused keys per address per minute")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected argument %q (run 'drbook serve --help')", fs.Arg(0))
	}
	if keysPath == "" {
		return usageErr("--authorized-keys FILE is required: public-key authentication only")
	}
	if maxSessions < 1 || authFailures < 1 || idle < 0 {
		return usageErr("--max-sessions and --auth-failures must be at least 1, --idle-timeout not negative")
	}
	keys, err := serve.LoadKeys(keysPath)
	if err != nil {
		return usageErr("%w", err)
	}
	ui.LimitMemory(iox.Getenv)
	cfg, err := o.open(iox)
	if err != nil {
		return err
	}
	defer cfg.Store.Close()
	if hostKey == "" {
		hostKey = filepath.Join(cfg.StateDir, "serve_host_ed25519_key")
	}
	pem, fp, created, err := serve.HostKey(hostKey)
	if err != nil {
		return usageErr("%w", err)
	}
	srv, err := serve.New(serve.Config{Engine: cfg, Keys: keys, KeysFile: keysPath, HostKeyPEM: pem, MaxSessions: maxSessions,
		IdleTimeout: idle, AuthFailures: authFailures, NoColor: o.noColor, Log: iox.Stderr})
	if err != nil {
		return failed(err)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return usageErr("--listen %s: %w", listen, err)
	}
	if created {
		fmt.Fprintf(iox.Stdout, "drbook serve: made host key %s\n", hostKey)
	}
	ops, obs := 0, 0
	for _, k := range keys {
		if k.Role == serve.Operator {
			ops++
		} else {
			obs++
		}
	}
	fmt.Fprintf(iox.Stdout, "drbook serve: listening on %s\nhost key fingerprint: %s\nkeys: %d operator, %d observer\n",
		ln.Addr(), fp, ops, obs)
	// SIGTERM and Ctrl-C are how a server is stopped: a clean stop is 0.
	if err := srv.Serve(ctx, ln); err != nil {
		return failed(err)
	}
	return nil
}
