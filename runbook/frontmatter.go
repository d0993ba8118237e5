package runbook

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// frontMatterKeys are the keys drbook reads from YAML front matter.
var frontMatterKeys = map[string]bool{
	"id": true, "title": true, "severity": true, "rto": true, "rpo": true, "mtd": true,
	"rto_phase": true, "response": true, "variables": true,
}

// ignoredFrontMatterKeys are keys other tools (Runme, static site
// generators) write; drbook accepts them silently.
var ignoredFrontMatterKeys = map[string]bool{
	"runme": true, "shell": true, "cwd": true, "skipPrompts": true, "terminalRows": true,
	"category": true, "description": true, "tags": true, "owner": true, "version": true,
	"date": true, "updated": true, "last_updated": true, "reviewed": true, "review": true,
	"author": true, "authors": true, "summary": true,
}

var yamlLineRE = regexp.MustCompile(`line (\d+)`)

// splitFrontMatter separates "---" YAML front matter from the body. It
// returns the YAML document node (nil when there is none), the body and
// the 1-based file line the body starts on.
func splitFrontMatter(src []byte, name string) (*yaml.Node, []byte, int, Problems) {
	if !bytes.HasPrefix(src, []byte("---\n")) && !bytes.Equal(bytes.TrimRight(src, " \t"), []byte("---")) {
		return nil, src, 1, nil
	}
	var rest []byte
	if len(src) >= 4 {
		rest = src[4:]
	}
	off := 0
	line := 2
	for off <= len(rest) {
		end := bytes.IndexByte(rest[off:], '\n')
		var l []byte
		if end < 0 {
			l = rest[off:]
		} else {
			l = rest[off : off+end]
		}
		if t := string(bytes.TrimRight(l, " \t")); t == "---" || t == "..." {
			yml := rest[:off]
			var body []byte
			if end >= 0 {
				body = rest[off+end+1:]
			}
			var doc yaml.Node
			if err := yaml.Unmarshal(yml, &doc); err != nil {
				errLine := 2
				msg := strings.TrimPrefix(err.Error(), "yaml: ")
				if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
					n, _ := strconv.Atoi(m[1])
					errLine = 1 + n
					msg = strings.TrimSpace(yamlLineRE.ReplaceAllString(msg, ""))
					msg = strings.TrimPrefix(msg, ": ")
				}
				return nil, nil, 0, Problems{{File: name, Line: errLine,
					Msg:  "malformed front matter: " + msg,
					Hint: "front matter is YAML between two --- lines, such as \"rto: 4h\""}}
			}
			return &doc, body, line + 1, nil
		}
		if end < 0 {
			break
		}
		off += end + 1
		line++
	}
	return nil, nil, 0, Problems{{File: name, Line: 1,
		Msg:  "front matter opened on line 1 is never closed",
		Hint: "end the front matter with a line of three dashes (---)"}}
}

// applyFrontMatter copies front matter values into rb. Every bad value is
// reported, each on its line.
func applyFrontMatter(rb *Runbook, doc *yaml.Node, file string, set *objectivesSet) Problems {
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil
	}
	m := doc.Content[0]
	if m.Kind == yaml.ScalarNode && m.Tag == "!!null" {
		return nil
	}
	if m.Kind != yaml.MappingNode {
		return Problems{{File: file, Line: m.Line + 1, Msg: "front matter must be a YAML mapping of keys to values",
			Hint: "write one \"key: value\" per line, such as \"rto: 4h\""}}
	}
	var ps Problems
	bad := func(n *yaml.Node, format string, args ...any) {
		ps = append(ps, Problem{File: file, Line: n.Line + 1, Msg: "front matter: " + fmt.Sprintf(format, args...),
			Hint: "see docs/runbook-format.md, \"Front matter\""})
	}
	scalar := func(key string, n *yaml.Node) (string, bool) {
		if n.Kind != yaml.ScalarNode {
			bad(n, "%s must be a single value", key)
			return "", false
		}
		return n.Value, true
	}
	dur := func(key string, n *yaml.Node) (time.Duration, bool) {
		v, ok := scalar(key, n)
		if !ok {
			return 0, false
		}
		d, err := ParseDuration(v)
		if err != nil {
			bad(n, "%s: %v", key, err)
			return 0, false
		}
		return d, true
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		switch k.Value {
		case "id":
			if s, ok := scalar("id", v); ok {
				if s == "" || slug(s, 64) != s {
					bad(v, "id %q must be lower case letters, digits and dashes", s)
				} else {
					rb.ID = s
				}
			}
		case "title":
			if s, ok := scalar("title", v); ok {
				rb.Title = s
			}
		case "severity":
			if s, ok := scalar("severity", v); ok {
				n, err := strconv.Atoi(s)
				if err != nil || n < 1 || n > 3 {
					bad(v, "severity %q must be 1, 2 or 3", s)
				} else {
					rb.Severity = n
				}
			}
		case "rto":
			if d, ok := dur("rto", v); ok {
				rb.Objectives.RTO, set.rto = d, true
			}
		case "rpo":
			if d, ok := dur("rpo", v); ok {
				rb.Objectives.RPO, set.rpo = d, true
			}
		case "mtd":
			if d, ok := dur("mtd", v); ok {
				rb.Objectives.MTD, set.mtd = d, true
			}
		case "rto_phase":
			if s, ok := scalar("rto_phase", v); ok {
				rb.RTOPhase = s
			}
		case "response":
			if v.Kind != yaml.MappingNode {
				bad(v, "response must map severities to times, such as \"1: 15m\"")
				continue
			}
			for j := 0; j+1 < len(v.Content); j += 2 {
				sk, sv := v.Content[j], v.Content[j+1]
				sev, err := strconv.Atoi(strings.TrimPrefix(strings.ToLower(sk.Value), "sev"))
				if err != nil || sev < 1 || sev > 3 {
					bad(sk, "response: severity %q must be 1, 2 or 3", sk.Value)
					continue
				}
				if d, ok := dur("response", sv); ok {
					if rb.Response == nil {
						rb.Response = map[int]time.Duration{}
					}
					rb.Response[sev] = d
				}
			}
		case "variables":
			ps = append(ps, readVars(rb, v, bad)...)
		default:
			if !ignoredFrontMatterKeys[k.Value] {
				rb.problems = append(rb.problems, Problem{File: file, Line: k.Line + 1,
					Msg:  fmt.Sprintf("unknown front matter key %q", k.Value),
					Hint: "known keys: " + knownList(frontMatterKeys)})
			}
		}
	}
	if ps != nil {
		return ps
	}
	return nil
}

var varNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// readVars reads variables as a list of {name, prompt, default, secret}
// mappings (a bare string is a name), or a mapping of name to settings.
func readVars(rb *Runbook, v *yaml.Node, bad func(*yaml.Node, string, ...any)) Problems {
	add := func(n *yaml.Node, name string, settings *yaml.Node) {
		if !varNameRE.MatchString(name) {
			bad(n, "variable name %q must be letters, digits and _", name)
			return
		}
		vr := Var{Name: name}
		if settings != nil {
			if settings.Kind != yaml.MappingNode {
				bad(settings, "variable %s: want prompt, default and secret keys", name)
				return
			}
			for j := 0; j+1 < len(settings.Content); j += 2 {
				sk, sv := settings.Content[j], settings.Content[j+1]
				switch sk.Value {
				case "name":
				case "prompt":
					vr.Prompt = sv.Value
				case "default":
					vr.Default = sv.Value
				case "secret":
					b, err := strconv.ParseBool(sv.Value)
					if err != nil {
						bad(sv, "variable %s: secret must be true or false", name)
					}
					vr.Secret = b
				default:
					bad(sk, "variable %s: unknown key %q (want prompt, default, secret)", name, sk.Value)
				}
			}
		}
		rb.Vars = append(rb.Vars, vr)
	}
	switch v.Kind {
	case yaml.SequenceNode:
		for _, item := range v.Content {
			switch item.Kind {
			case yaml.ScalarNode:
				add(item, item.Value, nil)
			case yaml.MappingNode:
				name := ""
				for j := 0; j+1 < len(item.Content); j += 2 {
					if item.Content[j].Value == "name" {
						name = item.Content[j+1].Value
					}
				}
				if name == "" {
					bad(item, "variable without a name")
					continue
				}
				add(item, name, item)
			default:
				bad(item, "variables: want a name or {name, prompt, default, secret}")
			}
		}
	case yaml.MappingNode:
		for j := 0; j+1 < len(v.Content); j += 2 {
			s := v.Content[j+1]
			if s.Kind == yaml.ScalarNode && s.Value == "" {
				s = nil
			}
			add(v.Content[j], v.Content[j].Value, s)
		}
	default:
		bad(v, "variables must be a list")
	}
	return nil
}
