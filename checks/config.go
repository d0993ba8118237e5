package checks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/drbook/drbook/steps/redact"
	"github.com/drbook/drbook/steps/system"
)

// RequiredEnv lists the variables the DR plan (section 3.2) requires.
var RequiredEnv = []string{"OPENAI_API_KEY", "IBKR_HOST", "IBKR_PORT", "ALPACA_API_KEY", "TRADING_MODE"}

// EnvVar is one KEY=VALUE line of a .env file.
type EnvVar struct {
	Key, Value string
	Line       int // 1-based
}

// MaxEnvSize caps what ReadEnv reads: a .env file is a few hundred bytes,
// and a bigger one is something else given by mistake.
const MaxEnvSize = redact.MaxEnvSize

// ParseEnvVars reads a .env file's KEY=VALUE lines in order, duplicates
// included. It is drbook's one .env parser, redact.ParseEnv, which lives
// in the leaf package steps/redact so that the redactor and every action
// read .env the same way: read .env through it (or ParseEnv, ReadEnv),
// never through a copy that drifts.
func ParseEnvVars(data []byte) []EnvVar {
	vars := redact.ParseEnv(data)
	out := make([]EnvVar, len(vars))
	for i, e := range vars {
		out[i] = EnvVar(e)
	}
	return out
}

// ParseEnv reads a .env file's KEY=VALUE lines into a map (see
// ParseEnvVars); when a key is given twice the later line wins.
func ParseEnv(data []byte) map[string]string {
	env := map[string]string{}
	for _, e := range ParseEnvVars(data) {
		env[e.Key] = e.Value
	}
	return env
}

// ReadEnv reads and parses the .env file at path. A missing file is an
// error that wraps fs.ErrNotExist; a directory, a FIFO or device, or a file
// over MaxEnvSize is refused.
func ReadEnv(path string) (map[string]string, error) { return redact.ReadEnv(path) }

func checkConfig(ctx context.Context, r *run, out func(Finding)) {
	root := r.opts.Root

	t := timed()
	env, err := ReadEnv(system.Env(root))
	switch {
	case errors.Is(err, os.ErrNotExist):
		out(t(Finding{Item: "env", Status: Fail, Message: ".env does not exist: restore it from a backup"}))
	case err != nil:
		out(t(Finding{Item: "env", Status: Fail, Message: ".env is unreadable: " + err.Error()}))
	default:
		var missing []string
		for _, k := range RequiredEnv {
			if env[k] == "" {
				missing = append(missing, k)
			}
		}
		// Only names go into evidence: values are secrets.
		facts := map[string]string{"variables": fmt.Sprint(len(env)), "required_present": fmt.Sprint(len(RequiredEnv) - len(missing))}
		if len(missing) > 0 {
			ev := &Evidence{Count: int64(len(missing)), Columns: []string{"missing"}, Facts: facts}
			for _, m := range missing {
				ev.Rows = append(ev.Rows, []string{m})
			}
			out(t(Finding{Item: "env", Status: Fail, Message: "missing or empty in .env: " + strings.Join(missing, ", "), Evidence: ev}))
		} else {
			out(t(Finding{Item: "env", Status: Pass, Message: fmt.Sprintf("all %d required variables set", len(RequiredEnv)), Evidence: &Evidence{Facts: facts}}))
		}
	}

	t = timed()
	cfg := system.Config(root)
	entries, err := os.ReadDir(cfg)
	if err != nil {
		msg := "config/ is unreadable: " + err.Error()
		if errors.Is(err, os.ErrNotExist) {
			msg = "config/ does not exist: restore it from a backup"
		}
		out(t(Finding{Item: "settings", Status: Fail, Message: msg}))
		out(t(Finding{Item: "agents", Status: Fail, Message: "no config/agents/: " + msg}))
		return
	}
	var bad [][]string
	n := 0
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		if err := parseConfigFile(filepath.Join(cfg, e.Name())); err != nil {
			bad = append(bad, []string{"config/" + e.Name(), err.Error()})
		}
		n++
	}
	out(t(fileFinding("settings", n, bad, "settings files")))
	if ctx.Err() != nil {
		return
	}

	t = timed()
	agents, err := filepath.Glob(filepath.Join(cfg, "agents", "*.json"))
	if err != nil {
		out(t(Finding{Item: "agents", Status: Fail, Message: err.Error()}))
		return
	}
	if len(agents) == 0 {
		out(t(Finding{Item: "agents", Status: Fail, Message: "no agent configurations in config/agents/"}))
		return
	}
	bad = nil
	for _, a := range agents {
		if err := parseConfigFile(a); err != nil {
			bad = append(bad, []string{"config/agents/" + filepath.Base(a), err.Error()})
		}
	}
	if missing := missingAgents(root, entries); len(missing) > 0 {
		var names []string
		for _, m := range missing {
			names = append(names, m[0])
		}
		ev := &Evidence{Count: int64(len(missing) + len(bad)), Columns: []string{"file", "error"}, Rows: append(missing, bad...)[:min(len(missing)+len(bad), MaxRows)]}
		msg := fmt.Sprintf("%d listed agent %s missing: %s", len(missing), plural(len(missing), "configuration is", "configurations are"), strings.Join(names, ", "))
		if len(bad) > 0 {
			msg += fmt.Sprintf("; %d of %d do not parse", len(bad), len(agents))
		}
		out(t(Finding{Item: "agents", Status: Fail, Message: msg + ": restore them from a backup", Evidence: ev}))
		return
	}
	out(t(fileFinding("agents", len(agents), bad, "agent configurations")))
}

// missingAgents lists the agents a settings file under config/ enables
// (agents: {directory: D, enabled: [NAME...]}) whose D/NAME.json does not
// exist, as {file, reason} rows. Settings that list no agents list none
// missing; a file that does not parse is reported as such elsewhere.
func missingAgents(root string, entries []os.DirEntry) [][]string {
	var out [][]string
	for _, e := range entries {
		ext := strings.ToLower(filepath.Ext(e.Name()))
		if e.IsDir() || (ext != ".yaml" && ext != ".yml") {
			continue
		}
		p := filepath.Join(root, "config", e.Name())
		if regularFile(p) != nil {
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var s struct {
			Agents struct {
				Directory string   `yaml:"directory"`
				Enabled   []string `yaml:"enabled"`
			} `yaml:"agents"`
		}
		if yaml.Unmarshal(data, &s) != nil || len(s.Agents.Enabled) == 0 {
			continue
		}
		dir := s.Agents.Directory
		if dir == "" {
			dir = "config/agents"
		}
		if filepath.IsAbs(dir) || !filepath.IsLocal(dir) {
			continue // only what lies under the root is the system's
		}
		for _, a := range s.Agents.Enabled {
			// A name with a path in it is not an agent name: it cannot lead
			// the check outside the directory.
			if a == "" || strings.ContainsAny(a, `/\`) || a == ".." {
				continue
			}
			rel := filepath.ToSlash(filepath.Join(dir, a+".json"))
			if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(rel))); errors.Is(err, os.ErrNotExist) {
				out = append(out, []string{rel, "missing: enabled under agents.enabled in config/" + e.Name()})
			}
		}
	}
	return out
}

func fileFinding(item string, n int, bad [][]string, what string) Finding {
	if len(bad) == 0 {
		return Finding{Item: item, Status: Pass, Message: fmt.Sprintf("%d %s parse", n, what), Evidence: &Evidence{Count: int64(n)}}
	}
	sort.Slice(bad, func(i, j int) bool { return bad[i][0] < bad[j][0] })
	var names []string
	for _, b := range bad {
		names = append(names, b[0])
	}
	ev := &Evidence{Count: int64(len(bad)), Columns: []string{"file", "error"}, Rows: bad[:min(len(bad), MaxRows)]}
	return Finding{Item: item, Status: Fail, Message: fmt.Sprintf("%d of %d %s %s: %s", len(bad), n, what, plural(len(bad), "does not parse", "do not parse"), strings.Join(names, ", ")), Evidence: ev}
}

// parseConfigFile parses a JSON or YAML file; other files need only be
// readable.
func parseConfigFile(path string) error {
	if err := regularFile(path); err != nil {
		return fmt.Errorf("unreadable: %w", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("unreadable: %w", err)
	}
	switch ext := strings.ToLower(filepath.Ext(path)); {
	case ext == ".json":
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			return jsonErr(data, err)
		}
	case slices.Contains([]string{".yaml", ".yml"}, ext):
		var v any
		if err := yaml.Unmarshal(data, &v); err != nil {
			return err
		}
	}
	return nil
}

// jsonErr adds the line and column to a JSON syntax error.
func jsonErr(data []byte, err error) error {
	var se *json.SyntaxError
	off := int64(-1)
	if errors.As(err, &se) {
		off = se.Offset
	}
	if strings.Contains(err.Error(), "unexpected end of JSON input") {
		off = int64(len(data))
	}
	if off < 0 {
		return err
	}
	line := 1 + bytes.Count(data[:min(off, int64(len(data)))], []byte("\n"))
	col := off - int64(bytes.LastIndexByte(data[:min(off, int64(len(data)))], '\n'))
	return fmt.Errorf("line %d, column %d: %v", line, col, err)
}

// plural picks the form for n.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// regularFile refuses what is not a regular file before it is opened:
// opening a FIFO blocks until someone writes to it, and no signal
// interrupts the wait, so a check would hang and ignore Ctrl-C.
func regularFile(path string) error {
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		return err
	case fi.IsDir():
		return fmt.Errorf("read %s: is a directory, not a file", path)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("read %s: not a regular file (a FIFO, device or socket)", path)
	}
	return nil
}
