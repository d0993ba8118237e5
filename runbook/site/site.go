// Package site reads drbook's site configuration: one YAML file that
// describes the QuantAI system on this host (its root, whether it is live),
// where its backups go, where its broker statements and APIs are, who to
// call, how to notify, and where the incident state lives.
//
// The file names where secrets are (a passphrase file, an .env key); it
// never holds them. Flags override it; Find says which file is read.
package site

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the site configuration. The zero value is "no configuration":
// every command then runs on its flags and built-in defaults.
type Config struct {
	System   System   `yaml:"system"`
	Backup   Backup   `yaml:"backup"`
	Brokers  Brokers  `yaml:"brokers"`
	Contacts Contacts `yaml:"contacts"`
	OnCall   []OnCall `yaml:"on_call"`
	Notify   Notify   `yaml:"notify"`
	State    State    `yaml:"state"`
	Evidence Evidence `yaml:"evidence"`
	Failover Failover `yaml:"failover"`
	Plan     Plan     `yaml:"plan"`

	// Path is the file the configuration was read from; "" when none.
	Path string `yaml:"-"`
	// Source says how Path was found: "flag", "env" or "default".
	Source string `yaml:"-"`

	lines map[string]int // dotted key → line in Path
	root  *yaml.Node
}

// System is the QuantAI installation this host runs or protects.
type System struct {
	Root string `yaml:"root"`
	// Live marks the system as production: commands act on Root for real
	// instead of on a drill sandbox.
	Live bool `yaml:"live"`
}

// Backup says where backups are written and read.
type Backup struct {
	Dirs           []string `yaml:"dirs"`
	S3             S3       `yaml:"s3"`
	PassphraseFile string   `yaml:"passphrase_file"`
}

// S3 is an S3 (or S3-compatible) location.
type S3 struct {
	URL       string `yaml:"url"` // s3://bucket/prefix
	Endpoint  string `yaml:"endpoint"`
	Region    string `yaml:"region"`
	PathStyle bool   `yaml:"path_style"`
}

// Brokers lists the brokers' statement sources and API endpoints.
type Brokers struct {
	IBKR   Broker `yaml:"ibkr"`
	Alpaca Broker `yaml:"alpaca"`
}

// Broker is one broker's statement file and API.
type Broker struct {
	Statement string `yaml:"statement"` // a file (Flex Query CSV, Activity Statement, JSON)
	API       string `yaml:"api"`       // base URL of the broker's API or gateway
	// InsecureTLS accepts the self-signed certificate of IBKR's local
	// Client Portal gateway.
	InsecureTLS bool `yaml:"insecure_tls"`
}

// Contacts are the people and services the plan says to call.
type Contacts struct {
	// MaxAge is how long a verification stays current ("90d", "12w",
	// "2160h"); 90 days when empty.
	MaxAge string    `yaml:"max_age"`
	People []Contact `yaml:"people"`
}

// Contact is one entry of the emergency contact list.
type Contact struct {
	Name  string `yaml:"name"`
	Role  string `yaml:"role"`
	Phone string `yaml:"phone"`
	Email string `yaml:"email"`
	// Verified is the date (YYYY-MM-DD) someone last confirmed the entry.
	Verified string `yaml:"verified"`
}

// OnCall is one slot of the on-call roster.
type OnCall struct {
	Name  string `yaml:"name"`
	Role  string `yaml:"role"`  // primary or secondary
	From  string `yaml:"from"`  // YYYY-MM-DD, inclusive
	Until string `yaml:"until"` // YYYY-MM-DD, inclusive; "" open-ended
}

// Notify lists the notification channels.
type Notify struct {
	Webhooks []Webhook `yaml:"webhooks"`
	SMTP     *SMTP     `yaml:"smtp"`
}

// Webhook is a Slack-compatible incoming webhook. Its URL is a secret, so
// the file names the .env key that holds it.
type Webhook struct {
	Name   string `yaml:"name"`
	URLEnv string `yaml:"url_env"`
}

// SMTP is a mail relay.
type SMTP struct {
	Host        string   `yaml:"host"`
	Port        int      `yaml:"port"`
	From        string   `yaml:"from"`
	To          []string `yaml:"to"`
	Username    string   `yaml:"username"`
	PasswordEnv string   `yaml:"password_env"`
	// StartTLS is required unless set to false (a relay on loopback).
	StartTLS *bool `yaml:"starttls"`
}

// State says where incident state lives.
type State struct {
	Dir string `yaml:"dir"`
	S3  string `yaml:"s3"` // s3://bucket/prefix for the replicated timeline
}

// Evidence names the keys that sign and check drill evidence.
type Evidence struct {
	// SigningKey is an ed25519 private key (PKCS#8 PEM, mode 0600), as
	// 'drbook evidence keygen' or `openssl genpkey -algorithm ed25519` writes.
	SigningKey string `yaml:"signing_key"`
	// PublicKey is the key 'drbook evidence verify' trusts.
	PublicKey string `yaml:"public_key"`
}

// Plan records the disaster recovery plan's own upkeep.
type Plan struct {
	// Reviewed is the date (YYYY-MM-DD) the plan was last reviewed and
	// approved; the plan asks for a review at least once a year, which the
	// compliance-check action checks.
	Reviewed string `yaml:"reviewed"`
}

// DefaultMaxAge is how long a contact's verification stays current.
const DefaultMaxAge = 90 * 24 * time.Hour

// MaxSize caps the configuration file: anything bigger was named by mistake.
const MaxSize = 1 << 20

// ErrNotFound is returned by Load when a configuration file named by flag
// or environment does not exist.
var ErrNotFound = errors.New("configuration file not found")

// Locate returns the configuration file to read and how it was found:
// flagPath ("flag"), else $DRBOOK_CONFIG ("env"), else
// $XDG_CONFIG_HOME/drbook/drbook.yaml or ~/.config/drbook/drbook.yaml,
// else /etc/drbook/drbook.yaml ("default"). A default that does not exist
// gives "", "": no configuration.
func Locate(flagPath string, getenv func(string) string) (path, source string) {
	if flagPath != "" {
		return flagPath, "flag"
	}
	if p := getenv("DRBOOK_CONFIG"); p != "" {
		return p, "env"
	}
	var cands []string
	if x := getenv("XDG_CONFIG_HOME"); x != "" {
		cands = append(cands, filepath.Join(x, "drbook", "drbook.yaml"))
	} else if h := getenv("HOME"); h != "" {
		cands = append(cands, filepath.Join(h, ".config", "drbook", "drbook.yaml"))
	}
	cands = append(cands, "/etc/drbook/drbook.yaml")
	for _, c := range cands {
		if fi, err := os.Stat(c); err == nil && fi.Mode().IsRegular() {
			return c, "default"
		}
	}
	return "", ""
}

// Load finds and reads the configuration (see Locate). No file found at
// the default places is an empty configuration, not an error; a file named
// by flag or environment must exist. Unknown keys are not errors here
// (Check reports them), so an older drbook reads a newer file.
func Load(flagPath string, getenv func(string) string) (*Config, error) {
	path, source := Locate(flagPath, getenv)
	if path == "" {
		return &Config{}, nil
	}
	c, err := Read(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			how := "--config"
			if source == "env" {
				how = "$DRBOOK_CONFIG"
			}
			return nil, fmt.Errorf("%s: %w (named by %s)", path, ErrNotFound, how)
		}
		return nil, err
	}
	c.Source = source
	return c, nil
}

// Read parses one configuration file.
func Read(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	if fi.Size() > MaxSize {
		return nil, fmt.Errorf("%s: %d bytes, over the %d-byte limit for a configuration file", path, fi.Size(), MaxSize)
	}
	data := make([]byte, fi.Size())
	if _, err := f.ReadAt(data, 0); err != nil && fi.Size() > 0 {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s:%w", path, err)
	}
	c.Path = path
	return c, nil
}

// Parse reads configuration from YAML. Errors start with "LINE: ".
func Parse(data []byte) (*Config, error) {
	c := &Config{lines: map[string]int{}}
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	if len(bytes.TrimSpace(data)) == 0 {
		return c, nil
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlErr(err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return c, nil
	}
	top := doc.Content[0]
	if top.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%d: the configuration must be a mapping of sections (system:, backup:, ...), not a %s", top.Line, kindName(top.Kind))
	}
	if err := top.Decode(c); err != nil {
		return nil, yamlErr(err)
	}
	c.root = top
	indexLines(top, "", c.lines)
	return c, nil
}

// yamlErr turns yaml.v3's "yaml: line N: msg" into "N: msg".
func yamlErr(err error) error {
	msg := err.Error()
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "unmarshal errors:\n  "); ok {
		msg = rest
	}
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, tail, ok := strings.Cut(rest, ": "); ok {
			if _, err := strconv.Atoi(n); err == nil {
				return fmt.Errorf("%s: %s", n, tail)
			}
		}
	}
	return fmt.Errorf("1: %s", msg)
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		return "single value"
	case yaml.AliasNode:
		return "alias"
	}
	return "mapping"
}

// indexLines records the line of every key, as "a.b.c" (list items as
// "a.0.b").
func indexLines(n *yaml.Node, prefix string, out map[string]int) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := join(prefix, n.Content[i].Value)
			out[k] = n.Content[i].Line
			indexLines(n.Content[i+1], k, out)
		}
	case yaml.SequenceNode:
		for i, item := range n.Content {
			k := join(prefix, strconv.Itoa(i))
			out[k] = item.Line
			indexLines(item, k, out)
		}
	}
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// Line returns the line of a dotted key in the file, or 0.
func (c *Config) Line(key string) int {
	if c == nil {
		return 0
	}
	return c.lines[key]
}

// Has reports whether the file sets a dotted key.
func (c *Config) Has(key string) bool { return c.Line(key) > 0 }

// Where returns "FILE:LINE" for a key set in the file, or "".
func (c *Config) Where(key string) string {
	if l := c.Line(key); l > 0 {
		return fmt.Sprintf("%s:%d", c.Path, l)
	}
	return ""
}

// ContactMaxAge is how long a contact's verification stays current.
func (c *Config) ContactMaxAge() (time.Duration, error) {
	if c == nil || c.Contacts.MaxAge == "" {
		return DefaultMaxAge, nil
	}
	return ParseAge(c.Contacts.MaxAge)
}

// ParseAge reads "90d", "12w" or a Go duration such as "2160h".
func ParseAge(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	for suffix, unit := range map[string]time.Duration{"d": 24 * time.Hour, "w": 7 * 24 * time.Hour} {
		if n, ok := strings.CutSuffix(s, suffix); ok {
			v, err := strconv.Atoi(n)
			if err != nil || v <= 0 {
				return 0, fmt.Errorf("age %q: want a positive number of days (90d), weeks (12w) or hours (2160h)", s)
			}
			return time.Duration(v) * unit, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("age %q: want a positive number of days (90d), weeks (12w) or hours (2160h)", s)
	}
	return d, nil
}

// Resolve makes a relative path in the file relative to the file's folder,
// so the configuration means the same from any working directory.
func (c *Config) Resolve(p string) string {
	if p == "" || filepath.IsAbs(p) || c == nil || c.Path == "" {
		return p
	}
	if strings.HasPrefix(p, "~/") {
		if h, err := os.UserHomeDir(); err == nil {
			return filepath.Join(h, p[2:])
		}
	}
	return filepath.Join(filepath.Dir(c.Path), p)
}
