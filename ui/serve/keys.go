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
	"os"
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
		for _, o := range opts {
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
		keys[fp] = Key{Fingerprint: fp, Comment: comment, Role: role}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(keys) == 0 {
		return nil, errors.New(name + ": no keys: nobody could log in")
	}
	return keys, nil
}
