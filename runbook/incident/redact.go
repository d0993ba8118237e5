package incident

import (
	"encoding/json"
	"os"
	"strings"

	"github.com/drbook/drbook/steps/redact"
)

// Redacted replaces a secret value in everything drbook records.
const Redacted = redact.Mask

// redactor is the incident's view of drbook's one redactor (steps/redact):
// known secret values, in every common encoding, become Redacted.
type redactor struct {
	r redact.Redactor
}

func (r *redactor) add(values ...string) { r.r.Add(values...) }

// string returns s with every secret replaced.
func (r *redactor) string(s string) string { return r.r.String(s) }

// err returns e with its message redacted (errors.Is still sees through).
func (r *redactor) err(e error) error { return r.r.Error(e) }

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
	if f := d.Finding; f != nil {
		ff := *f
		ff.Text, ff.Owner = r.string(ff.Text), r.string(ff.Owner)
		d.Finding = &ff
	}
	if so := d.Signoff; so != nil {
		ss := *so
		ss.Statement = r.string(ss.Statement)
		d.Signoff = &ss
	}
	if dl := d.Delivery; dl != nil {
		dd := *dl
		dd.Reason, dd.Detail, dd.Reminder, dd.Subject = r.string(dd.Reason), r.string(dd.Detail), r.string(dd.Reminder), r.string(dd.Subject)
		dd.Recipients = append([]string(nil), dd.Recipients...)
		for i := range dd.Recipients {
			dd.Recipients[i] = r.string(dd.Recipients[i])
		}
		d.Delivery = &dd
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
// every value, unless its key is on the short allowlist of keys that say
// where and how the system runs (hosts, ports, modes, directories and
// paths, TZ, LOG_LEVEL) or the value is a word like true or paper, or
// shorter than three characters (see redact.EnvSecrets and
// docs/secrets.md). A missing .env yields none.
func EnvSecrets(root string) []string { return redact.RootSecrets(root) }

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

// exportRedactor knows the secrets drbook can still find for an incident
// declared against root: its .env (see EnvSecrets) and DRBOOK_PASSPHRASE
// or DRBOOK_PASSPHRASE_FILE.
func exportRedactor(root string) *redactor {
	rd := &redactor{}
	rd.add(EnvSecrets(root)...)
	rd.add(PassphraseSecrets(nil, os.Getenv)...)
	return rd
}

// redactExport returns events with every payload redacted once more, by
// the secrets of the root the incident was declared against, as it is
// now: drbook redacts before it records, and this catches what was
// recorded before a value became secret (an older drbook, a .env changed
// since). Events with nothing to redact are returned unchanged (hashes and
// all, so the export still shows the recorded chain); the input is never
// modified.
func redactExport(events []Event) []Event {
	root := ""
	for _, ev := range events {
		if ev.Data.Declared != nil {
			root = ev.Data.Declared.Root
			break
		}
	}
	if root == "" {
		return events
	}
	rd := exportRedactor(root)
	if rd.r.Len() == 0 {
		return events
	}
	var out []Event
	for i := range events {
		b, err := json.Marshal(events[i].Data)
		if err != nil || rd.string(string(b)) == string(b) {
			continue
		}
		if out == nil {
			out = append([]Event(nil), events...)
		}
		rd.data(&out[i].Data)
	}
	if out == nil {
		return events
	}
	return out
}

// redactMessage redacts a filled template by the secrets of root.
func redactMessage(root string, m Message) Message {
	if root == "" {
		return m
	}
	rd := exportRedactor(root)
	m.To, m.Subject, m.Body = rd.string(m.To), rd.string(m.Subject), rd.string(m.Body)
	return m
}
