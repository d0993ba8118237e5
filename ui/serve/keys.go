// Package serve is drbook serve: the TUI over SSH for a team. Each SSH
// session gets its own screen (its own bubbletea program) on one shared
// state directory; every event a session writes is recorded with the SSH
// user, the key's fingerprint and the client address as its actor, and
// shows on every other screen on the same incident within a second.
// Operators act; observers read, and the server refuses their changes.
package serve

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path"
	"strings"

	gossh "golang.org/x/crypto/ssh"
)

// Role is what a key may do.
type Role string

const (
	// Operator keys act: run steps, mark them, write notes, close.
	Operator Role = "operator"
	// Observer keys read: the incident screen, timeline, report, comms.
	Observer Role = "observer"
)

// RoleVar is the authorized_keys environment option that carries a key's
// role: environment="DRBOOK_ROLE=operator". A key without it is an
// observer.
const RoleVar = "DRBOOK_ROLE"

// Key is one authorized key.
type Key struct {
	Fingerprint string // SHA256:...
	Comment     string
	Role        Role
	// From is the key's from="..." option, as sshd reads it: the client
	// addresses it may be used from (patterns with * and ?, CIDR blocks,
	// ! to exclude); empty for anywhere.
	From []string
	// NoPTY is the key's no-pty option: it may not have a terminal, and
	// drbook serve has nothing without one.
	NoPTY bool
}

// AllowsFrom reports whether the key may be used from the client address
// addr, as sshd's from= does: some pattern matches it and no negated one
// does. drbook serve matches addresses only (sshd without UseDNS); a host
// name pattern is refused when the keys are read.
func (k Key) AllowsFrom(addr string) bool {
	if len(k.From) == 0 {
		return true
	}
	ip := net.ParseIP(addr)
	if ip == nil {
		return false
	}
	if v4 := ip.To4(); v4 != nil {
		ip = v4
	}
	allowed := false
	for _, p := range k.From {
		neg := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(p, "!")
		var match bool
		if _, block, err := net.ParseCIDR(p); err == nil {
			match = block.Contains(ip)
		} else {
			match, _ = path.Match(strings.ToLower(p), strings.ToLower(ip.String()))
		}
		if match && neg {
			return false
		}
		allowed = allowed || match
	}
	return allowed
}

// parseFrom reads a from= option's pattern list; a pattern that is a host
// name is an error (drbook serve does not look names up, so it could
// never match, and the key would silently be usable from nowhere).
func parseFrom(v string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(v, ",") {
		p = strings.TrimSpace(p)
		bare := strings.TrimPrefix(p, "!")
		switch {
		case bare == "":
			return nil, fmt.Errorf("from=%q: an empty pattern", v)
		case strings.Contains(bare, "/"):
			if _, _, err := net.ParseCIDR(bare); err != nil {
				return nil, fmt.Errorf("from=%q: %q is not a CIDR block", v, p)
			}
		case strings.Trim(bare, "0123456789abcdefABCDEF.:*?") != "":
			return nil, fmt.Errorf("from=%q: %q is a host name; drbook serve matches client addresses only (IP patterns with * and ?, CIDR blocks)", v, p)
		}
		out = append(out, p)
	}
	return out, nil
}

// Keys are the authorized keys by fingerprint.
type Keys map[string]Key

// Lookup returns the entry for a presented key.
func (k Keys) Lookup(pub gossh.PublicKey) (Key, bool) {
	if pub == nil {
		return Key{}, false
	}
	e, ok := k[gossh.FingerprintSHA256(pub)]
	return e, ok
}

// LoadKeys reads an OpenSSH authorized_keys file. A key's role comes from
// its environment="DRBOOK_ROLE=..." option; without one it is an
// observer. A line that is not a key, or a role other than operator or
// observer, is an error naming the line: nothing is served with half a
// key list.
func LoadKeys(path string) (Keys, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("authorized keys: %w", err)
	}
	return ParseKeys(data, path)
}

// ParseKeys parses authorized_keys text; name is for messages.
func ParseKeys(data []byte, name string) (Keys, error) {
	keys := Keys{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		pub, comment, opts, _, err := gossh.ParseAuthorizedKey(line)
		if err != nil {
			return nil, fmt.Errorf("%s line %d: not an authorized key: %w", name, n, err)
		}
		role := Observer
		var from []string
		noPTY := false
		for _, o := range opts {
			if strings.EqualFold(o, "no-pty") {
				noPTY = true
				continue
			}
			if v, ok := cutOption(o, "from="); ok {
				if from, err = parseFrom(strings.Trim(v, `"`)); err != nil {
					return nil, fmt.Errorf("%s line %d: %w", name, n, err)
				}
				continue
			}
			v, ok := strings.CutPrefix(o, "environment=")
			if !ok {
				continue
			}
			v = strings.Trim(v, `"`)
			r, ok := strings.CutPrefix(v, RoleVar+"=")
			if !ok {
				continue
			}
			switch Role(r) {
			case Operator, Observer:
				role = Role(r)
			default:
				return nil, fmt.Errorf("%s line %d: %s=%q: the role is operator or observer", name, n, RoleVar, r)
			}
		}
		fp := gossh.FingerprintSHA256(pub)
		keys[fp] = Key{Fingerprint: fp, Comment: comment, Role: role, From: from, NoPTY: noPTY}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(keys) == 0 {
		return nil, errors.New(name + ": no keys: nobody could log in")
	}
	return keys, nil
}

// cutOption cuts an option's name, in any case, as sshd reads them.
func cutOption(o, name string) (string, bool) {
	if len(o) >= len(name) && strings.EqualFold(o[:len(name)], name) {
		return o[len(name):], true
	}
	return "", false
}
