package site

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// RequiredRoles are the contacts the plan's section 7 names; a contact
// list without one of them is a finding.
var RequiredRoles = []string{
	"Primary On-Call", "Secondary On-Call", "Technical Lead", "Operations Manager",
	"IBKR Support", "Alpaca Support",
}

// placeholder matches the plan's unfilled template fields: [Name], [Phone],
// [Email], [Contact information]...
var placeholder = regexp.MustCompile(`\[[^\]]*\]`)

// IsPlaceholder reports whether a contact field is empty or still the
// template's placeholder.
func IsPlaceholder(s string) bool {
	s = strings.TrimSpace(s)
	return s == "" || placeholder.MatchString(s) || strings.EqualFold(s, "tbd") || strings.EqualFold(s, "todo")
}

// normRole compares roles without case, spaces or hyphens:
// "primary on-call" is "Primary On-Call".
func normRole(s string) string {
	s = strings.ToLower(s)
	return strings.NewReplacer(" ", "", "-", "", "_", "").Replace(s)
}

// Verification is one recorded confirmation that a contact is current.
type Verification struct {
	At time.Time `json:"at"`
	By string    `json:"by,omitempty"`
}

// Verifications maps a contact's name to its latest recorded verification.
type Verifications map[string]Verification

// verificationsFile lives in the state directory: the configuration file
// may be read-only (/etc) for the operator who calls to check.
const verificationsFile = "contacts-verified.json"

// LoadVerifications reads the verifications recorded in stateDir; none is
// an empty set.
func LoadVerifications(stateDir string) (Verifications, error) {
	b, err := os.ReadFile(filepath.Join(stateDir, verificationsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return Verifications{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("contact verifications: %w", err)
	}
	v := Verifications{}
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("contact verifications %s: %w", filepath.Join(stateDir, verificationsFile), err)
	}
	return v, nil
}

// RecordVerification records that name was confirmed current at when by
// whom, atomically (write and rename).
func RecordVerification(stateDir, name string, when time.Time, by string) error {
	v, err := LoadVerifications(stateDir)
	if err != nil {
		return err
	}
	v[name] = Verification{At: when.UTC(), By: by}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return fmt.Errorf("contact verifications: %w", err)
	}
	tmp, err := os.CreateTemp(stateDir, ".contacts-*.tmp")
	if err != nil {
		return fmt.Errorf("contact verifications: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("contact verifications: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("contact verifications: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("contact verifications: %w", err)
	}
	return os.Rename(tmp.Name(), filepath.Join(stateDir, verificationsFile))
}

// ErrUnknownContact is returned for a name the configuration does not list.
var ErrUnknownContact = errors.New("no such contact in the configuration")

// FindContact returns the configured contact called name (case-insensitive,
// or by role).
func (c *Config) FindContact(name string) (Contact, error) {
	var names []string
	for _, p := range c.Contacts.People {
		if strings.EqualFold(p.Name, name) || normRole(p.Role) == normRole(name) {
			return p, nil
		}
		names = append(names, p.Name)
	}
	if len(names) == 0 {
		return Contact{}, fmt.Errorf("%q: %w (the configuration lists no contacts)", name, ErrUnknownContact)
	}
	return Contact{}, fmt.Errorf("%q: %w (known: %s)", name, ErrUnknownContact, strings.Join(names, ", "))
}

// LastVerified is when a contact was last confirmed: the later of the
// file's verified: date and a recorded verification; zero when never.
func (c Contact) LastVerified(seen Verifications) time.Time {
	var t time.Time
	if c.Verified != "" {
		if d, err := time.Parse(time.DateOnly, c.Verified); err == nil {
			t = d
		}
	}
	if v, ok := seen[c.Name]; ok && v.At.After(t) {
		t = v.At
	}
	return t
}

// ContactProblems lists what is wrong with the contact list: placeholders,
// entries with no way to reach them, roles the plan names that nobody
// holds, and contacts not verified within the configured window. An empty
// list in the configuration is one warning: the runbooks' own (often
// placeholder) section is used instead.
func (c *Config) ContactProblems(now time.Time, seen Verifications) []Problem {
	var ps []Problem
	add := func(key string, lvl Level, hint, format string, args ...any) {
		ps = append(ps, Problem{File: c.Path, Line: c.Line(key), Key: key, Level: lvl, Msg: fmt.Sprintf(format, args...), Hint: hint})
	}
	if len(c.Contacts.People) == 0 {
		if c.Path != "" {
			add("contacts", Warning, "add contacts.people to the configuration", "no emergency contacts configured: the runbooks' own list is shown")
		}
		return ps
	}
	maxAge, err := c.ContactMaxAge()
	if err != nil {
		maxAge = DefaultMaxAge
	}
	held := map[string]bool{}
	for i, p := range c.Contacts.People {
		key := fmt.Sprintf("contacts.people.%d", i)
		who := p.Name
		if IsPlaceholder(who) {
			who = fmt.Sprintf("contact %d", i+1)
			if p.Role != "" {
				who += " (" + p.Role + ")"
			}
		}
		for _, f := range []struct{ name, v string }{{"name", p.Name}, {"role", p.Role}, {"phone", p.Phone}, {"email", p.Email}} {
			if strings.TrimSpace(f.v) != "" && IsPlaceholder(f.v) {
				add(key+"."+f.name, Error, "fill in the real value", "%s: %s is a placeholder (%s)", who, f.name, f.v)
			}
		}
		if IsPlaceholder(p.Name) && strings.TrimSpace(p.Name) == "" {
			add(key, Error, "", "%s has no name", who)
		}
		if IsPlaceholder(p.Phone) && IsPlaceholder(p.Email) {
			add(key, Error, "give a phone or an email", "%s cannot be reached: no phone and no email", who)
		}
		if !IsPlaceholder(p.Role) {
			held[normRole(p.Role)] = true
		}
		if p.Verified != "" {
			if _, err := time.Parse(time.DateOnly, p.Verified); err != nil {
				add(key+".verified", Error, "", "%s: verified %q is not a date (YYYY-MM-DD)", who, p.Verified)
				continue
			}
		}
		last := p.LastVerified(seen)
		switch {
		case last.IsZero():
			add(key, Warning, "call them, then: drbook contacts verify '"+p.Name+"'", "%s has never been verified", who)
		case now.Sub(last) > maxAge:
			add(key, Warning, "call them, then: drbook contacts verify '"+p.Name+"'",
				"%s last verified %s, %d days ago (older than %d days)", who, last.Format(time.DateOnly), int(now.Sub(last).Hours()/24), int(maxAge.Hours()/24))
		}
	}
	for _, r := range RequiredRoles {
		if !held[normRole(r)] {
			add("contacts.people", Error, "the plan's section 7 names this role", "no contact holds the role %q", r)
		}
	}
	return ps
}

// OnCallNow returns the roster's slots that cover the day of now.
func (c *Config) OnCallNow(now time.Time) []OnCall {
	day := now.Format(time.DateOnly)
	var out []OnCall
	for _, o := range c.OnCall {
		if (o.From == "" || o.From <= day) && (o.Until == "" || day <= o.Until) {
			out = append(out, o)
		}
	}
	return out
}

// ContactsMarkdown renders the configured contacts as the runbooks'
// Emergency Contacts section: "- **Role:** Name - Phone - Email
// (verified DATE)". It is "" when no contacts are configured.
func (c *Config) ContactsMarkdown(now time.Time, seen Verifications) string {
	if c == nil || len(c.Contacts.People) == 0 {
		return ""
	}
	maxAge, err := c.ContactMaxAge()
	if err != nil {
		maxAge = DefaultMaxAge
	}
	var b strings.Builder
	b.WriteString("## Emergency Contacts\n\n")
	if on := c.OnCallNow(now); len(on) > 0 {
		b.WriteString("On call today:")
		for i, o := range on {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, " %s (%s)", o.Name, o.Role)
		}
		b.WriteString("\n\n")
	}
	for _, p := range c.Contacts.People {
		var parts []string
		for _, v := range []string{p.Name, p.Phone, p.Email} {
			if strings.TrimSpace(v) != "" {
				parts = append(parts, v)
			}
		}
		role := p.Role
		if role == "" {
			role = "Contact"
		}
		last := p.LastVerified(seen)
		state := "never verified"
		if !last.IsZero() {
			state = "verified " + last.Format(time.DateOnly)
			if now.Sub(last) > maxAge {
				state += ", STALE"
			}
		}
		fmt.Fprintf(&b, "- **%s:** %s (%s)\n", role, strings.Join(parts, " - "), state)
	}
	return b.String()
}
