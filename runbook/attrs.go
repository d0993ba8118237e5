package runbook

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// blockAttrs are the attributes drbook understands on a fenced block.
var blockAttrs = map[string]bool{
	"name": true, "id": true, "confirm": true, "timeout": true, "expect": true,
	"drill": true, "cwd": true, "write": true, "interpreter": true, "diagnostic": true,
}

// runmeAttrs are attributes Runme writes that drbook accepts and ignores,
// so that a runbook written for Runme validates.
var runmeAttrs = map[string]bool{
	"interactive": true, "background": true, "closeTerminalOnSuccess": true,
	"mimeType": true, "terminalRows": true, "excludeFromRunAll": true,
	"category": true, "promptEnv": true, "skipPrompts": true, "tag": true,
	"interpreter": true, "cell": true,
}

// phaseAttrs are the attributes accepted after a phase title.
var phaseAttrs = map[string]bool{"id": true, "window": true}

// splitInfo splits a fence's info string into the language and the raw
// attribute text ("{...}"), if any.
func splitInfo(info string) (lang, attrs string) {
	info = strings.TrimSpace(info)
	if i := strings.IndexByte(info, '{'); i >= 0 {
		lang, attrs = strings.TrimSpace(info[:i]), strings.TrimSpace(info[i:])
	} else {
		lang = info
	}
	if f := strings.Fields(lang); len(f) > 0 {
		lang = f[0]
	}
	return strings.ToLower(lang), attrs
}

// parseAttrText reads "{ name=x confirm=true }" or `{"name":"x"}` into
// key/value pairs in the order written.
func parseAttrText(s string) ([][2]string, error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "{") || !strings.HasSuffix(s, "}") {
		return nil, fmt.Errorf("attributes %q: want {key=value ...} or a JSON object", s)
	}
	inner := strings.TrimSpace(s[1 : len(s)-1])
	if strings.HasPrefix(inner, `"`) {
		return parseJSONAttrs(s)
	}
	var out [][2]string
	rs := []rune(inner)
	i := 0
	for i < len(rs) {
		for i < len(rs) && (unicode.IsSpace(rs[i]) || rs[i] == ',') {
			i++
		}
		if i >= len(rs) {
			break
		}
		start := i
		for i < len(rs) && rs[i] != '=' && !unicode.IsSpace(rs[i]) && rs[i] != ',' {
			i++
		}
		key := string(rs[start:i])
		if key == "" {
			return nil, fmt.Errorf("attributes %q: expected a name at %q", s, string(rs[i:]))
		}
		if i >= len(rs) || rs[i] != '=' {
			// A bare name is a true flag: {confirm}.
			out = append(out, [2]string{key, "true"})
			continue
		}
		i++ // '='
		var val string
		if i < len(rs) && (rs[i] == '"' || rs[i] == '\'') {
			q := rs[i]
			i++
			var b strings.Builder
			closed := false
			for i < len(rs) {
				if rs[i] == '\\' && i+1 < len(rs) && q == '"' {
					b.WriteRune(rs[i+1])
					i += 2
					continue
				}
				if rs[i] == q {
					closed = true
					i++
					break
				}
				b.WriteRune(rs[i])
				i++
			}
			if !closed {
				return nil, fmt.Errorf("attributes %q: unterminated quote in %s", s, key)
			}
			val = b.String()
		} else {
			vs := i
			for i < len(rs) && !unicode.IsSpace(rs[i]) && rs[i] != ',' {
				i++
			}
			val = string(rs[vs:i])
		}
		out = append(out, [2]string{key, val})
	}
	return out, nil
}

func parseJSONAttrs(s string) ([][2]string, error) {
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, fmt.Errorf("attributes %s: %v", s, err)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([][2]string, 0, len(m))
	for _, k := range keys {
		var v string
		switch x := m[k].(type) {
		case string:
			v = x
		case bool:
			v = strconv.FormatBool(x)
		case float64:
			v = strconv.FormatFloat(x, 'f', -1, 64)
		case nil:
			v = ""
		default:
			b, _ := json.Marshal(x)
			v = string(b)
		}
		out = append(out, [2]string{k, v})
	}
	return out, nil
}

// blockAttrsFrom fills Attrs from parsed pairs. Problems with values and
// unknown names are returned for Validate; they do not stop the parse.
func blockAttrsFrom(pairs [][2]string, file string, line int) (Attrs, Problems) {
	a := Attrs{Raw: map[string]string{}}
	var ps Problems
	bad := func(key, val, want string) {
		ps = append(ps, Problem{File: file, Line: line,
			Msg:  fmt.Sprintf("attribute %s=%q: %s", key, val, want),
			Hint: "see docs/runbook-format.md, \"Block attributes\""})
	}
	for _, kv := range pairs {
		k, v := kv[0], kv[1]
		if _, dup := a.Raw[k]; dup {
			ps = append(ps, Problem{File: file, Line: line, Msg: fmt.Sprintf("attribute %s given twice", k)})
		}
		a.Raw[k] = v
		switch k {
		case "name":
			a.Name = v
		case "id":
			if a.Name == "" {
				a.Name = v
			}
		case "confirm", "write", "diagnostic":
			b, err := strconv.ParseBool(v)
			if err != nil {
				bad(k, v, "want true or false")
				continue
			}
			switch k {
			case "confirm":
				a.Confirm = b
			case "write":
				a.Write = b
			default:
				a.Diagnostic = b
			}
		case "timeout":
			d, err := ParseDuration(v)
			if err != nil {
				bad(k, v, "want a duration such as 10m")
				continue
			}
			a.Timeout = d
		case "expect":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 255 {
				bad(k, v, "want an exit code 0-255")
				continue
			}
			a.Expect = n
		case "drill":
			switch DrillMode(v) {
			case DrillRun, DrillSkip, DrillSimulate:
				a.Drill = DrillMode(v)
			default:
				bad(k, v, "want run, skip or simulate")
			}
		case "cwd":
			a.Cwd = v
		case "interpreter":
			a.Interpreter = v
		default:
			if !runmeAttrs[k] {
				ps = append(ps, Problem{File: file, Line: line,
					Msg:  fmt.Sprintf("unknown attribute %q", k),
					Hint: "known attributes: " + knownList(blockAttrs)})
			}
		}
	}
	return a, ps
}

func knownList(m map[string]bool) string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, ", ")
}

// trailingAttrs splits "Title {window=15m-1h}" into the title and the
// attribute text, when the title ends with a brace group.
func trailingAttrs(s string) (string, string) {
	t := strings.TrimRight(s, " \t")
	if !strings.HasSuffix(t, "}") {
		return s, ""
	}
	i := strings.LastIndexByte(t, '{')
	if i < 0 {
		return s, ""
	}
	inner := t[i+1 : len(t)-1]
	if !strings.ContainsAny(inner, "=:") {
		return s, ""
	}
	return strings.TrimSpace(t[:i]), t[i:]
}

// parseDrbookBlock reads a drbook block: the first non-blank, non-comment
// line names the action; the following lines are "key: value" parameters.
func parseDrbookBlock(b *Block, file string) Problems {
	var ps Problems
	lines := strings.Split(b.Code, "\n")
	b.Params = map[string]string{}
	named := false
	for i, raw := range lines {
		line := strings.TrimSpace(raw)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if b.Action == "" && !named {
			named = true
			b.Action = line
			if strings.ContainsAny(line, " \t:") {
				ps = append(ps, Problem{File: file, Line: b.Line + 1 + i,
					Msg:  fmt.Sprintf("drbook block: first line %q must be just an action name", line),
					Hint: "write the action on its own line, then one \"key: value\" parameter per line"})
				b.Action = ""
				if f := strings.Fields(strings.SplitN(line, ":", 2)[0]); len(f) > 0 {
					b.Action = f[0]
				}
			}
			b.Code = strings.Join(lines[i+1:], "\n")
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		k = strings.TrimSpace(k)
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			ps = append(ps, Problem{File: file, Line: b.Line + 1 + i,
				Msg:  fmt.Sprintf("drbook block: %q is not a \"key: value\" parameter", line),
				Hint: "one parameter per line, such as \"from: latest\""})
			continue
		}
		if _, dup := b.Params[k]; dup {
			ps = append(ps, Problem{File: file, Line: b.Line + 1 + i,
				Msg: fmt.Sprintf("drbook block: parameter %q given twice", k)})
		}
		b.Params[k] = strings.Trim(strings.TrimSpace(v), `"`)
	}
	if b.Action == "" && !named {
		ps = append(ps, Problem{File: file, Line: b.Line,
			Msg:  "drbook block names no action",
			Hint: "the first line of a drbook block is the action, such as \"restore\""})
	}
	return ps
}
