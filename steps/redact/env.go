package redact

import (
	"bytes"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// EnvVar is one KEY=VALUE line of a .env file.
type EnvVar struct {
	Key, Value string
	Line       int // 1-based
}

// MaxEnvSize caps what ReadEnvFile reads: a .env file is a few hundred
// bytes, and a bigger one is something else given by mistake.
const MaxEnvSize = 1 << 20

// ParseEnv reads a .env file's KEY=VALUE lines in order, duplicates
// included, so a redactor can hide every value ever given. Comments, blank
// lines, an "export " prefix, CR LF line endings and a leading byte-order
// mark are allowed; quotes around a value are removed. There is no line
// length limit: a long line is a long value, never the silent end of the
// file. This is drbook's one .env parser: read .env through it, never
// through a copy that drifts.
func ParseEnv(data []byte) []EnvVar {
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	var out []EnvVar
	for i, raw := range bytes.Split(data, []byte("\n")) {
		line := strings.TrimSpace(string(raw))
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if rest, ok := strings.CutPrefix(line, "export"); ok && rest != "" && (rest[0] == ' ' || rest[0] == '\t') {
			line = strings.TrimSpace(rest)
		}
		k, v, ok := strings.Cut(line, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" {
			continue
		}
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		out = append(out, EnvVar{Key: k, Value: v, Line: i + 1})
	}
	return out
}

// ReadEnvFile reads and parses the .env file at path. A missing file is an
// error that wraps fs.ErrNotExist; a directory, a FIFO or device, or a file
// over MaxEnvSize is refused.
func ReadEnvFile(path string) ([]EnvVar, error) { return readEnvFile(path, MaxEnvSize) }

// redactEnvSize is how much of a .env the redactor reads: more than
// ReadEnvFile accepts, since a .env too big for the checks still holds
// secrets that must not leak.
const redactEnvSize = 64 << 20

func readEnvFile(path string, limit int64) ([]EnvVar, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("read %s: over %d KiB, not a .env file", path, limit>>10)
	}
	return ParseEnv(data), nil
}

// publicSuffixes and publicKeys are the allowlist of .env keys whose
// values say where and how the system runs rather than how to get into
// it: hosts, ports, modes, directories and paths, the time zone and the
// log level. Every other key's value is a secret.
var (
	publicSuffixes = []string{"_HOST", "_HOSTNAME", "_PORT", "_MODE", "_DIR", "_PATH"}
	publicKeys     = map[string]bool{"HOST": true, "HOSTNAME": true, "PORT": true, "MODE": true, "TZ": true, "LOG_LEVEL": true}
)

// publicValues are values that stay readable whatever their key: they are
// words of configuration, and masking them would only garble the record.
var publicValues = map[string]bool{"true": true, "false": true, "yes": true, "no": true, "on": true, "off": true,
	"enabled": true, "disabled": true, "none": true, "null": true, "paper": true, "live": true}

// PublicKey reports whether key is on the allowlist of .env keys whose
// values are not secret: keys ending in _HOST, _HOSTNAME, _PORT, _MODE,
// _DIR or _PATH, and HOST, HOSTNAME, PORT, MODE, TZ and LOG_LEVEL (case
// does not matter).
func PublicKey(key string) bool {
	k := strings.ToUpper(strings.TrimSpace(key))
	if publicKeys[k] {
		return true
	}
	for _, s := range publicSuffixes {
		if strings.HasSuffix(k, s) {
			return true
		}
	}
	return false
}

// PublicValue reports whether a value stays readable whatever its key:
// shorter than MinLen, or one of true, false, yes, no, on, off, enabled,
// disabled, none, null, paper, live (case does not matter).
func PublicValue(v string) bool {
	v = strings.TrimSpace(v)
	return len(v) < MinLen || publicValues[strings.ToLower(v)]
}

// EnvSecrets returns the secret values among vars: every value, unless
// its key is on the allowlist (PublicKey) or the value itself is public
// (PublicValue). A URL with a password is a secret under any key: of an
// allowlisted key's value, its password is returned.
func EnvSecrets(vars []EnvVar) []string {
	var out []string
	for _, e := range vars {
		switch {
		case PublicValue(e.Value):
		case !PublicKey(e.Key):
			out = append(out, e.Value)
		default:
			if p := urlPassword(e.Value); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// RootSecrets returns the secret values of root/.env (see EnvSecrets),
// each value given under a key counted. It reads a .env of up to 64 MiB
// (more than ReadEnvFile accepts). A missing or unreadable .env, or
// anything but a regular file, yields none.
func RootSecrets(root string) []string {
	if root == "" {
		return nil
	}
	vars, err := readEnvFile(filepath.Join(root, ".env"), redactEnvSize)
	if err != nil {
		return nil
	}
	return EnvSecrets(vars)
}

// SecretKeys returns the keys of root/.env whose values are secrets, so a
// caller that looks the same keys up elsewhere (the process environment,
// runbook variables) can redact those values too.
func SecretKeys(root string) []string {
	if root == "" {
		return nil
	}
	vars, err := readEnvFile(filepath.Join(root, ".env"), redactEnvSize)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range vars {
		if !PublicKey(e.Key) {
			out = append(out, e.Key)
		}
	}
	return out
}

func urlPassword(v string) string {
	if !strings.Contains(v, "://") {
		return ""
	}
	u, err := url.Parse(v)
	if err != nil || u.User == nil {
		return ""
	}
	p, _ := u.User.Password()
	return p
}

// ReadEnv reads and parses the .env file at path into a map; when a key is
// given twice the later line wins. A missing file is an error that wraps
// fs.ErrNotExist; a directory, a FIFO or device, or a file over MaxEnvSize
// is refused with a message that says which.
func ReadEnv(path string) (map[string]string, error) {
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		return nil, err
	case fi.IsDir():
		return nil, fmt.Errorf("read %s: is a directory, not a file", path)
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("read %s: not a regular file (a FIFO, device or socket)", path)
	}
	vars, err := readEnvFile(path, MaxEnvSize)
	if err != nil {
		return nil, err
	}
	env := make(map[string]string, len(vars))
	for _, e := range vars {
		env[e.Key] = e.Value
	}
	return env, nil
}
