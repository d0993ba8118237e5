package site

import (
	"fmt"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
	"gopkg.in/yaml.v3"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/steps/system"
)

// Level says whether a problem makes the configuration unusable.
type Level string

// Problem levels.
const (
	Error   Level = "error"   // the configuration is wrong: fix it
	Warning Level = "warning" // it works, but something needs attention
)

// Problem is one thing wrong with the configuration, at a place in its
// file when it has one.
type Problem struct {
	File  string `json:"file,omitempty"`
	Line  int    `json:"line,omitempty"`
	Key   string `json:"key,omitempty"`
	Level Level  `json:"level"`
	Msg   string `json:"message"`
	Hint  string `json:"hint,omitempty"`
}

func (p Problem) String() string {
	var b strings.Builder
	switch {
	case p.File != "" && p.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", p.File, p.Line)
	case p.File != "":
		fmt.Fprintf(&b, "%s: ", p.File)
	}
	if p.Level == Warning {
		b.WriteString("warning: ")
	}
	b.WriteString(p.Msg)
	if p.Hint != "" {
		b.WriteString(" (" + p.Hint + ")")
	}
	return b.String()
}

// Check validates the configuration: unknown keys, values of the wrong
// form, paths that cannot be read, a passphrase file others can read,
// secrets written into the file, and the contact list (see
// ContactProblems). now dates the contacts' verifications; seen holds
// verifications recorded with `drbook contacts verify` (may be nil).
func (c *Config) Check(now time.Time, seen Verifications) []Problem {
	var ps []Problem
	add := func(key string, lvl Level, hint, format string, args ...any) {
		ps = append(ps, Problem{File: c.Path, Line: c.Line(key), Key: key, Level: lvl, Msg: fmt.Sprintf(format, args...), Hint: hint})
	}
	if c.root != nil {
		unknownKeys(c.root, reflect.TypeOf(Config{}), "", func(key string, line int, msg, hint string) {
			ps = append(ps, Problem{File: c.Path, Line: line, Key: key, Level: Error, Msg: msg, Hint: hint})
		})
	}

	if r := c.System.Root; r != "" {
		r = c.Resolve(r)
		switch fi, err := os.Stat(r); {
		case err != nil:
			add("system.root", Error, "", "system.root %s: %v", r, unwrapPath(err))
		case !fi.IsDir():
			add("system.root", Error, "", "system.root %s is not a folder", r)
		default:
			if _, err := os.Stat(system.DB(r)); err != nil && c.System.Live {
				add("system.root", Warning, "a live root normally holds the trading database", "system.root %s has no data/quantai.db", r)
			}
		}
	} else if c.System.Live {
		add("system.live", Error, "name the QuantAI installation with system.root", "system.live is true but system.root is not set")
	}

	for i, d := range c.Backup.Dirs {
		key := fmt.Sprintf("backup.dirs.%d", i)
		d = c.Resolve(d)
		switch fi, err := os.Stat(d); {
		case os.IsNotExist(err):
			add(key, Warning, "drbook backup creates it", "backup folder %s does not exist yet", d)
		case err != nil:
			add(key, Error, "", "backup folder %s: %v", d, unwrapPath(err))
		case !fi.IsDir():
			add(key, Error, "", "backup folder %s is not a folder", d)
		case unix.Access(d, unix.W_OK|unix.X_OK) != nil:
			add(key, Error, "backups could not be written there", "backup folder %s is not writable by this user", d)
		}
	}
	if u := c.Backup.S3.URL; u != "" {
		if msg := checkS3URL(u); msg != "" {
			add("backup.s3.url", Error, "", "backup.s3.url: %s", msg)
		}
	}
	if e := c.Backup.S3.Endpoint; e != "" {
		if msg := checkHTTPURL(e); msg != "" {
			add("backup.s3.endpoint", Error, "", "backup.s3.endpoint: %s", msg)
		}
	}
	if p := c.Backup.PassphraseFile; p != "" {
		p = c.Resolve(p)
		switch fi, err := os.Stat(p); {
		case err != nil:
			add("backup.passphrase_file", Error, "", "passphrase file %s: %v", p, unwrapPath(err))
		case !fi.Mode().IsRegular():
			add("backup.passphrase_file", Error, "", "passphrase file %s is not a regular file", p)
		case fi.Mode().Perm()&0o077 != 0:
			add("backup.passphrase_file", Error, "chmod 600 "+p, "passphrase file %s is readable by others (mode %04o)", p, fi.Mode().Perm())
		default:
			if f, err := os.Open(p); err != nil {
				add("backup.passphrase_file", Error, "", "passphrase file %s: %v", p, unwrapPath(err))
			} else {
				f.Close()
			}
		}
	}

	if k := c.Evidence.SigningKey; k != "" {
		k = c.Resolve(k)
		switch fi, err := os.Stat(k); {
		case err != nil:
			add("evidence.signing_key", Error, "create one with 'drbook evidence keygen -o FILE'", "signing key %s: %v", k, unwrapPath(err))
		case fi.Mode().Perm()&0o077 != 0:
			add("evidence.signing_key", Error, "chmod 600 "+k, "signing key %s is readable by others (mode %04o)", k, fi.Mode().Perm())
		}
	}
	if k := c.Evidence.PublicKey; k != "" {
		if _, err := os.Stat(c.Resolve(k)); err != nil {
			add("evidence.public_key", Error, "", "public key %s: %v", c.Resolve(k), unwrapPath(err))
		}
	}

	for name, b := range map[string]Broker{"ibkr": c.Brokers.IBKR, "alpaca": c.Brokers.Alpaca} {
		if s := b.Statement; s != "" {
			s = c.Resolve(s)
			if f, err := os.Open(s); err != nil {
				add("brokers."+name+".statement", Error, "", "%s statement %s: %v", name, s, unwrapPath(err))
			} else {
				f.Close()
			}
		}
		if a := b.API; a != "" {
			if msg := checkHTTPURL(a); msg != "" {
				add("brokers."+name+".api", Error, "", "brokers.%s.api: %s", name, msg)
			} else if u, _ := url.Parse(a); u.User != nil {
				add("brokers."+name+".api", Error, "keys come from the system's .env", "brokers.%s.api holds credentials", name)
			}
		}
	}

	for i, w := range c.Notify.Webhooks {
		key := fmt.Sprintf("notify.webhooks.%d", i)
		switch {
		case w.URLEnv == "":
			add(key, Error, "name the .env key that holds the URL, e.g. url_env: SLACK_WEBHOOK_URL", "webhook %q has no url_env", w.Name)
		case !envName.MatchString(w.URLEnv):
			add(key+".url_env", Error, "a webhook URL is a secret: put it in .env and name its key here", "webhook %q: url_env %q is not an environment variable name", w.Name, redactValue(w.URLEnv))
		}
	}
	if s := c.Notify.SMTP; s != nil {
		if s.Host == "" {
			add("notify.smtp", Error, "", "notify.smtp has no host")
		}
		if s.Port < 0 || s.Port > 65535 {
			add("notify.smtp.port", Error, "", "notify.smtp.port %d is not a port", s.Port)
		}
		if s.From == "" || len(s.To) == 0 {
			add("notify.smtp", Error, "", "notify.smtp needs from: and at least one to:")
		}
		if s.PasswordEnv != "" && !envName.MatchString(s.PasswordEnv) {
			add("notify.smtp.password_env", Error, "a password is a secret: put it in .env and name its key here", "notify.smtp.password_env is not an environment variable name")
		}
	}
	if u := c.State.S3; u != "" {
		if msg := checkS3URL(u); msg != "" {
			add("state.s3", Error, "", "state.s3: %s", msg)
		}
	}
	if r := c.Plan.Reviewed; r != "" {
		d, err := time.Parse(time.DateOnly, r)
		switch {
		case err != nil:
			add("plan.reviewed", Error, "", "plan.reviewed: %q is not a date (YYYY-MM-DD)", r)
		case now.Sub(d) > 365*24*time.Hour:
			add("plan.reviewed", Warning, "review the plan, then set the date", "the plan was last reviewed %s, over a year ago", r)
		}
	}
	for i, o := range c.OnCall {
		key := fmt.Sprintf("on_call.%d", i)
		for _, d := range []struct{ k, v string }{{"from", o.From}, {"until", o.Until}} {
			if d.v == "" {
				continue
			}
			if _, err := time.Parse(time.DateOnly, d.v); err != nil {
				add(key+"."+d.k, Error, "", "on_call %s: %q is not a date (YYYY-MM-DD)", d.k, d.v)
			}
		}
	}
	c.failoverProblems(add)
	if _, err := c.ContactMaxAge(); err != nil {
		add("contacts.max_age", Error, "", "contacts.max_age: %v", err)
	}
	ps = append(ps, c.ContactProblems(now, seen)...)
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Line < ps[j].Line && ps[i].Line > 0 })
	return ps
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// redactValue shortens a value that may be a secret for a message.
func redactValue(s string) string {
	if len(s) > 12 {
		return s[:8] + "…"
	}
	return s
}

func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

func checkS3URL(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Scheme != "s3" || p.Host == "" {
		return fmt.Sprintf("%q is not an s3://bucket/prefix URL", u)
	}
	return ""
}

func checkHTTPURL(u string) string {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return fmt.Sprintf("%q is not an http(s) URL", u)
	}
	return ""
}

// unknownKeys walks a mapping against the yaml tags of t and reports every
// key t does not have, with the closest known key as a hint.
func unknownKeys(n *yaml.Node, t reflect.Type, prefix string, report func(key string, line int, msg, hint string)) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case n.Kind == yaml.SequenceNode && t.Kind() == reflect.Slice:
		for i, item := range n.Content {
			unknownKeys(item, t.Elem(), join(prefix, fmt.Sprint(i)), report)
		}
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Struct:
		fields := map[string]reflect.Type{}
		var names []string
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if tag == "" || tag == "-" || !f.IsExported() {
				continue
			}
			fields[tag] = f.Type
			names = append(names, tag)
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			ft, ok := fields[k.Value]
			if !ok {
				where := "at the top level"
				if prefix != "" {
					where = "in " + prefix
				}
				hint := "known: " + strings.Join(names, ", ")
				if s := runbook.Closest(k.Value, names); s != "" {
					hint = fmt.Sprintf("did you mean %q?", s)
				}
				report(join(prefix, k.Value), k.Line, fmt.Sprintf("unknown key %q %s", k.Value, where), hint)
				continue
			}
			unknownKeys(n.Content[i+1], ft, join(prefix, k.Value), report)
		}
	}
}
