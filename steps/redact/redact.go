// Package redact is drbook's one redactor: it replaces secret values, and
// the common encodings of each, with [REDACTED] in every action's output
// and every file drbook writes. It also holds drbook's one .env parser and
// the rule that decides which .env values are secrets (see EnvSecrets and
// docs/secrets.md).
//
// It imports only the standard library, so the incident engine, the
// checks and every action under steps/ can share it without importing
// each other.
package redact

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"sort"
	"strings"
	"sync"
)

// Mask replaces a secret value.
const Mask = "[REDACTED]"

// MinLen is the shortest value treated as a secret. Shorter ones ("1",
// "on", "17") cannot be told apart from the numbers and words around them.
const MinLen = 3

// WordLen is the length from which a value, and each of its forms, is
// replaced wherever it occurs. A shorter value (a PIN like 8842) and its
// forms are replaced only where they stand as a word of their own: not inside a longer run of digits (for a value that
// starts or ends with a digit) or of letters (likewise), so that a PIN of
// 842 does not shred 18842 or a timestamp.
const WordLen = 8

// maxEncoded is the longest value whose encodings are computed; a longer
// value (a pasted certificate) is still redacted as it is.
const maxEncoded = 4 << 10

// Redactor replaces known secret values, and their encodings, with Mask.
// The zero value and a nil *Redactor redact nothing; Add teaches it
// values. It is safe for concurrent use.
type Redactor struct {
	mu     sync.RWMutex
	values map[string]bool // as added
	forms  map[string]bool // every form to replace: true anywhere, false as a word
	long   *strings.Replacer
	words  []string // short forms, matched as words, longest first
}

// New returns a redactor that knows values.
func New(values ...string) *Redactor {
	r := &Redactor{}
	r.Add(values...)
	return r
}

// Add teaches the redactor more secret values. Surrounding white space is
// ignored; values shorter than MinLen and the empty string are ignored.
// A URL value also brings its password and, when long enough to be told
// from ordinary words (16 characters), its path and query and each path
// segment or query value (a webhook's token), each with its own forms.
func (r *Redactor) Add(values ...string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.values == nil {
		r.values, r.forms = map[string]bool{}, map[string]bool{}
	}
	changed := false
	for _, v := range values {
		v = strings.TrimSpace(v)
		if len(v) < MinLen || r.values[v] {
			continue
		}
		r.values[v] = true
		// A URL's parts are values of their own: a short password is
		// matched as a word even inside a long URL.
		for _, p := range append([]string{v}, urlParts(v)...) {
			if len(p) < MinLen {
				continue
			}
			anywhere := len(p) >= WordLen
			for _, f := range Forms(p) {
				if was, ok := r.forms[f]; !ok || anywhere && !was {
					r.forms[f], changed = anywhere, true
				}
			}
		}
	}
	if !changed {
		return
	}
	var long, words []string
	for f, anywhere := range r.forms {
		if anywhere {
			long = append(long, f)
		} else {
			words = append(words, f)
		}
	}
	byLength := func(s []string) {
		sort.Slice(s, func(i, j int) bool {
			if len(s[i]) != len(s[j]) {
				return len(s[i]) > len(s[j])
			}
			return s[i] < s[j]
		})
	}
	byLength(long)
	byLength(words)
	// strings.Replacer tries the old strings in argument order at each
	// position: longest first, a secret containing another goes whole.
	pairs := make([]string, 0, 2*len(long))
	for _, f := range long {
		pairs = append(pairs, f, Mask)
	}
	r.long = nil
	if len(pairs) > 0 {
		r.long = strings.NewReplacer(pairs...)
	}
	r.words = words
}

// Len reports how many secret values the redactor knows.
func (r *Redactor) Len() int {
	if r == nil {
		return 0
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.values)
}

// String returns s with every known secret, in every form, replaced by
// Mask.
func (r *Redactor) String(s string) string {
	if r == nil || s == "" {
		return s
	}
	r.mu.RLock()
	long, words := r.long, r.words
	r.mu.RUnlock()
	if long != nil {
		s = long.Replace(s)
	}
	for _, w := range words {
		s = replaceWord(s, w)
	}
	return s
}

// Bytes is String for a byte slice.
func (r *Redactor) Bytes(b []byte) []byte {
	if r.Len() == 0 {
		return b
	}
	return []byte(r.String(string(b)))
}

// Strings redacts every element of ss in place and returns it.
func (r *Redactor) Strings(ss []string) []string {
	for i := range ss {
		ss[i] = r.String(ss[i])
	}
	return ss
}

// Error returns err with its message redacted, keeping it for errors.Is
// and errors.As; nil stays nil, and an error with nothing to redact is
// returned as it is.
func (r *Redactor) Error(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if red := r.String(msg); red != msg {
		return &redactedError{msg: red, err: err}
	}
	return err
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// replaceWord replaces each occurrence of w in s that stands as a word of
// its own (see WordLen).
func replaceWord(s, w string) string {
	i := strings.Index(s, w)
	if i < 0 {
		return s
	}
	var b strings.Builder
	last := 0
	for i >= 0 {
		end := i + len(w)
		if (i == 0 || class(s[i-1]) == 0 || class(s[i-1]) != class(w[0])) &&
			(end == len(s) || class(s[end]) == 0 || class(s[end]) != class(w[len(w)-1])) {
			b.WriteString(s[last:i])
			b.WriteString(Mask)
			last = end
		} else {
			end = i + 1
		}
		j := strings.Index(s[end:], w)
		if j < 0 {
			break
		}
		i = end + j
	}
	b.WriteString(s[last:])
	return b.String()
}

// class is 1 for an ASCII digit, 2 for an ASCII letter, 0 for anything
// else.
func class(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return 1
	case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		return 2
	}
	return 0
}

// Forms returns v and the forms it commonly takes in output: JSON-escaped,
// percent-encoded (as a query value and as a path, upper- and lower-case
// hex), and base64 in the standard and URL alphabets with and without
// padding, of v alone and of v followed by a newline (echo v | base64).
// For values of WordLen bytes or more it adds the part of the base64 text
// that v alone decides at each of the three byte alignments, so that v is
// caught inside a longer encoded text too (base64 of "user:v", a Basic
// authorization header). Values longer
// than 4 KiB are returned alone.
func Forms(v string) []string {
	out := []string{v}
	if len(v) > maxEncoded {
		return out
	}
	seen := map[string]bool{v: true}
	add := func(f string) {
		if len(f) >= MinLen && !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	for _, html := range []bool{true, false} {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(html)
		if enc.Encode(v) == nil {
			s := strings.TrimSuffix(b.String(), "\n")
			add(s[1 : len(s)-1])
		}
	}
	for _, e := range []string{url.QueryEscape(v), url.PathEscape(v)} {
		add(e)
		add(lowerHex(e))
	}
	encs := []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding}
	for _, s := range []string{v, v + "\n"} {
		for _, enc := range encs {
			add(enc.EncodeToString([]byte(s)))
		}
	}
	if len(v) >= WordLen {
		for shift := 0; shift < 3; shift++ {
			b := append(make([]byte, shift), v...)
			from := (shift*8 + 5) / 6      // first character decided by v alone
			to := (shift + len(v)) * 8 / 6 // last whole character of v's bits
			for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
				if e := enc.EncodeToString(b); to > from && to <= len(e) {
					add(e[from:to])
				}
			}
		}
	}
	return out
}

// lowerHex returns a percent-encoded text with lower-case hex digits.
func lowerHex(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			b[i+1], b[i+2] = bytes.ToLower(b[i+1 : i+2])[0], bytes.ToLower(b[i+2 : i+3])[0]
			i += 2
		}
	}
	return string(b)
}

// tokenLen is the length from which a URL's path segment or query value
// counts as a token of its own (a webhook's secret part).
const tokenLen = 16

// urlParts returns the secret parts of a URL value: the password, the path
// with query and fragment when it has tokenLen characters or more (a
// database URL's "/quantai" must not shred every path), and each
// path segment or query value of tokenLen characters or more. Anything
// that is not an absolute URL with a host yields nothing.
func urlParts(v string) []string {
	if !strings.Contains(v, "://") {
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil
	}
	var out []string
	if p, ok := u.User.Password(); ok {
		out = append(out, p)
	}
	rest := u.EscapedPath()
	if u.RawQuery != "" {
		rest += "?" + u.RawQuery
	}
	if u.Fragment != "" {
		rest += "#" + u.EscapedFragment()
	}
	if len(rest) >= tokenLen && rest != v {
		out = append(out, rest)
	}
	for _, seg := range strings.Split(u.Path, "/") {
		if len(seg) >= tokenLen {
			out = append(out, seg)
		}
	}
	for _, vals := range u.Query() {
		for _, q := range vals {
			if len(q) >= tokenLen {
				out = append(out, q)
			}
		}
	}
	return out
}
