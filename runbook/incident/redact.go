package incident

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/drbook/drbook/checks"
)

// Redacted replaces a secret value in everything drbook records.
const Redacted = "[REDACTED]"

// minSecretLen is the shortest value treated as a secret: shorter ones
// ("1", "on") would shred every line they happen to appear in.
const minSecretLen = 4

// notSecret are .env values that say how the system runs rather than how
// to get into it; redacting them would only garble the record.
var notSecret = map[string]bool{"true": true, "false": true, "yes": true, "no": true, "on": true, "off": true, "paper": true, "live": true}

// redactor replaces known secret values with Redacted.
type redactor struct {
	mu      sync.RWMutex
	secrets []string // longest first
	r       *strings.Replacer
}

func (r *redactor) add(values ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	changed := false
	for _, v := range values {
		v = strings.TrimSpace(v)
		if len(v) < minSecretLen {
			continue
		}
		known := false
		for _, s := range r.secrets {
			if s == v {
				known = true
				break
			}
		}
		if !known {
			r.secrets = append(r.secrets, v)
			changed = true
			// The JSON-escaped form, in case a value reaches us inside JSON.
			if b, err := json.Marshal(v); err == nil {
				if e := string(b[1 : len(b)-1]); e != v {
					r.secrets = append(r.secrets, e)
				}
			}
		}
	}
	if !changed {
		return
	}
	sort.Slice(r.secrets, func(i, j int) bool { return len(r.secrets[i]) > len(r.secrets[j]) })
	pairs := make([]string, 0, 2*len(r.secrets))
	for _, s := range r.secrets {
		pairs = append(pairs, s, Redacted)
	}
	r.r = strings.NewReplacer(pairs...)
}

// string returns s with every secret replaced.
func (r *redactor) string(s string) string {
	r.mu.RLock()
	rep := r.r
	r.mu.RUnlock()
	if rep == nil || s == "" {
		return s
	}
	return rep.Replace(s)
}

// data redacts every string of an event's payload.
func (r *redactor) data(d *EventData) {
	d.Text, d.Reason, d.Output, d.Summary, d.Error = r.string(d.Text), r.string(d.Reason), r.string(d.Output), r.string(d.Summary), r.string(d.Error)
	d.Params = r.strMap(d.Params)
	if d.Findings != nil {
		fs := make([]string, len(d.Findings))
		for i, f := range d.Findings {
			fs[i] = r.string(f)
		}
		d.Findings = fs
	}
	if len(d.Result) > 0 {
		var v any
		if json.Unmarshal(d.Result, &v) == nil {
			if b, err := json.Marshal(r.any(v)); err == nil {
				d.Result = b
			}
		} else {
			d.Result = nil
		}
	}
	if c := d.Comms; c != nil {
		cc := *c
		cc.To, cc.Subject, cc.Body = r.string(cc.To), r.string(cc.Subject), r.string(cc.Body)
		d.Comms = &cc
	}
	if dc := d.Declared; dc != nil {
		dd := *dc
		dd.Title, dd.Impact, dd.Scenario = r.string(dd.Title), r.string(dd.Impact), r.string(dd.Scenario)
		dd.Vars = r.strMap(dd.Vars)
		d.Declared = &dd
	}
}

func (r *redactor) strMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = r.string(v)
	}
	return out
}

func (r *redactor) any(v any) any {
	switch x := v.(type) {
	case string:
		return r.string(x)
	case []any:
		for i := range x {
			x[i] = r.any(x[i])
		}
		return x
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[r.string(k)] = r.any(e)
		}
		return out
	}
	return v
}

// EnvSecrets returns the values of root/.env that are treated as secrets:
// the values of keys named like credentials (KEY, SECRET, TOKEN, PASSWORD,
// PASSPHRASE, CREDENTIAL, AUTH, PRIVATE, ACCOUNT...), URLs with a password
// in them, and any other value that looks like a token (20 characters or
// more of letters and digits, no spaces or slashes). Hosts, ports, paths and
// log levels stay readable in recorded output. A missing .env yields none.
func EnvSecrets(root string) []string {
	if root == "" {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(root, ".env"))
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range checks.ParseEnvVars(b) { // duplicates kept: every value given is redacted
		if secretEnvValue(e.Key, e.Value) {
			out = append(out, e.Value)
		}
	}
	return out
}

// PassphraseSecrets returns the backup passphrase an action may use, from
// DRBOOK_PASSPHRASE or the first line of DRBOOK_PASSPHRASE_FILE, looked up
// in vars first and then with getenv (nil: none), so that it is redacted
// wherever it might surface.
func PassphraseSecrets(vars map[string]string, getenv func(string) string) []string {
	get := func(k string) string {
		if v := vars[k]; v != "" {
			return v
		}
		if getenv != nil {
			return getenv(k)
		}
		return ""
	}
	var out []string
	if p := get("DRBOOK_PASSPHRASE"); p != "" {
		out = append(out, p)
	}
	if f := get("DRBOOK_PASSPHRASE_FILE"); f != "" {
		if b, err := os.ReadFile(f); err == nil {
			line, _, _ := strings.Cut(string(b), "\n")
			if line = strings.TrimRight(line, "\r"); line != "" {
				out = append(out, line)
			}
		}
	}
	return out
}

var secretKeyWords = []string{"KEY", "SECRET", "TOKEN", "PASSWORD", "PASSWD", "PASS", "PASSPHRASE", "CREDENTIAL", "AUTH",
	"PRIVATE", "ACCOUNT", "SIGNATURE", "COOKIE", "SESSION"}

// secretEnvValue decides whether a .env value is a secret.
func secretEnvValue(key, v string) bool {
	if len(v) < minSecretLen || notSecret[strings.ToLower(v)] {
		return false
	}
	k := strings.ToUpper(key)
	for _, w := range secretKeyWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	if i := strings.Index(v, "://"); i > 0 {
		if at := strings.LastIndex(v, "@"); at > i && strings.Contains(v[i+3:at], ":") {
			return true // scheme://user:password@host
		}
	}
	if len(v) < 20 || strings.ContainsAny(v, " /\\") {
		return false
	}
	letters, digits := false, false
	for _, r := range v {
		switch {
		case r >= '0' && r <= '9':
			digits = true
		case r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
			letters = true
		}
	}
	return letters && digits
}
