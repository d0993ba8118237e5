package runbook

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Validate checks the runbook and returns every problem at once, sorted by
// line: problems found while parsing (unknown or malformed attributes,
// malformed drbook blocks), unknown actions and parameters, missing
// required parameters, a destructive action or data-changing SQL without
// confirm=true, duplicate ids, inverted or overlapping phase windows, an
// unknown rto_phase, and variables used but not declared. With a nil
// catalog the action checks are skipped.
func (rb *Runbook) Validate(cat Catalog) Problems {
	ps := append(Problems(nil), rb.problems...)
	file := rb.Source
	add := func(line int, hint, format string, args ...any) {
		ps = append(ps, Problem{File: file, Line: line, Msg: fmt.Sprintf(format, args...), Hint: hint})
	}

	if len(rb.Phases) == 0 {
		add(rb.Line, "write list items (steps) under headings (phases); see docs/runbook-format.md", "runbook has no steps")
	}

	// Ids.
	phaseAt := map[string]int{}
	stepAt := map[string]int{}
	for _, ph := range rb.Phases {
		if l, dup := phaseAt[ph.ID]; dup {
			add(ph.Line, "give each phase its own {id=...}", "duplicate phase id %q (also on line %d)", ph.ID, l)
		} else {
			phaseAt[ph.ID] = ph.Line
		}
		for _, st := range ph.Steps {
			if l, dup := stepAt[st.ID]; dup {
				add(st.Line, "give each block in a phase its own name=...", "duplicate step id %q (also on line %d)", st.ID, l)
			} else {
				stepAt[st.ID] = st.Line
			}
		}
	}

	// Objectives and windows.
	if rb.RTOPhase != "" && rb.Phase(rb.RTOPhase) == nil {
		ids := make([]string, 0, len(rb.Phases))
		for _, ph := range rb.Phases {
			ids = append(ids, ph.ID)
		}
		add(1, "phase ids: "+strings.Join(ids, ", "), "rto_phase %q names no phase", rb.RTOPhase)
	}
	o := rb.Objectives
	if o.RTO > 0 && o.MTD > 0 && o.RTO > o.MTD {
		add(1, "the RTO must fit inside the maximum tolerable downtime",
			"RTO %s is longer than the MTD %s", formatDuration(o.RTO), formatDuration(o.MTD))
	}
	groups := map[string][]*Phase{}
	var order []string
	for _, ph := range rb.Phases {
		w := ph.Window
		if !w.Set {
			continue
		}
		if w.End <= w.Start {
			add(ph.Line, "write the window as START-END with START before END, such as (15-60 minutes)",
				"phase %q: window %s-%s ends before it starts", ph.Title, formatDuration(w.Start), formatDuration(w.End))
			continue
		}
		if w.Deadline {
			continue
		}
		if _, ok := groups[ph.Group]; !ok {
			order = append(order, ph.Group)
		}
		groups[ph.Group] = append(groups[ph.Group], ph)
	}
	for _, g := range order {
		phs := groups[g]
		sort.SliceStable(phs, func(i, j int) bool { return phs[i].Window.Start < phs[j].Window.Start })
		prev := phs[0]
		for _, ph := range phs[1:] {
			if ph.Window.Start < prev.Window.End {
				add(ph.Line, "phases run one after another; start this one when the previous one ends",
					"phase %q (%s-%s) overlaps phase %q (%s-%s, line %d)", ph.Title,
					formatDuration(ph.Window.Start), formatDuration(ph.Window.End), prev.Title,
					formatDuration(prev.Window.Start), formatDuration(prev.Window.End), prev.Line)
			}
			if ph.Window.End > prev.Window.End {
				prev = ph
			}
		}
	}

	// Blocks.
	declared := map[string]bool{}
	for _, v := range rb.Vars {
		if declared[v.Name] {
			add(1, "", "variable %s declared twice", v.Name)
		}
		declared[v.Name] = true
	}
	undeclared := func(b *Block, names []string) {
		seen := map[string]bool{}
		for _, n := range names {
			if declared[n] || seen[n] || builtinVar(n) {
				continue
			}
			seen[n] = true
			add(b.Line, fmt.Sprintf("declare it in the front matter: variables: [{name: %s, prompt: ...}]", n),
				"variable $%s is used but not declared", n)
		}
	}
	for _, ph := range rb.Phases {
		for _, st := range ph.Steps {
			b := st.Block
			if b == nil {
				continue
			}
			switch st.Kind {
			case KindAction:
				var names []string
				for _, v := range b.Params {
					names = append(names, paramVars(v)...)
				}
				sort.Strings(names)
				undeclared(b, names)
				if cat == nil || b.Action == "" {
					continue
				}
				info, ok := cat.LookupAction(b.Action)
				if !ok {
					hint := "the built-in actions are described in docs/actions.md"
					if l, ok := cat.(ActionLister); ok {
						names := l.ActionNames()
						hint = "built-in actions: " + strings.Join(names, ", ")
						if c := Closest(b.Action, names); c != "" {
							hint = fmt.Sprintf("did you mean %q? (%s)", c, hint)
						}
					}
					switch b.Action {
					case "shell", "sh", "bash":
						hint = "write shell commands in a ```sh block instead of a drbook block"
					case "sql":
						hint = "write SQL in a ```sql block instead of a drbook block"
					}
					add(b.Line, hint, "unknown action %q", b.Action)
					continue
				}
				known := map[string]bool{}
				for _, p := range info.Params {
					known[p] = true
				}
				keys := make([]string, 0, len(b.Params))
				for k := range b.Params {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				for _, k := range keys {
					if !known[k] {
						hint := fmt.Sprintf("%s takes no parameters", info.Name)
						if len(info.Params) > 0 {
							hint = fmt.Sprintf("%s takes: %s", info.Name, strings.Join(info.Params, ", "))
						}
						add(b.Line, hint, "action %s: unknown parameter %q", info.Name, k)
					}
				}
				for _, r := range info.Required {
					if _, ok := b.Params[r]; !ok {
						add(b.Line, fmt.Sprintf("add a line \"%s: ...\" to the block", r), "action %s: missing required parameter %q", info.Name, r)
					}
				}
				if info.Destructive && !b.Attrs.Confirm {
					add(b.Line, "add confirm=true to the fence: ```drbook {confirm=true}",
						"action %s changes the system but the block does not ask for confirmation", info.Name)
				}
			case KindSQL:
				undeclared(b, bracedVars(b.Code))
				if w := sqlWrite(b.Code); w != "" && !b.Attrs.Write {
					add(b.Line, "mark the block ```sql {write=true confirm=true} so drbook opens the database for writing and asks first",
						"sql block changes data (%s) but is not marked write=true", w)
				}
				if b.Attrs.Write && !b.Attrs.Confirm {
					add(b.Line, "add confirm=true: ```sql {write=true confirm=true}",
						"sql block with write=true changes data but does not ask for confirmation")
				}
			case KindShell:
				undeclared(b, shellVars(b.Code))
			}
		}
	}
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Line < ps[j].Line })
	return ps
}

// builtinVar reports names every shell block may use without declaring:
// drbook's own DRBOOK_* variables and the usual process environment.
func builtinVar(n string) bool {
	if strings.HasPrefix(n, "DRBOOK_") {
		return true
	}
	switch n {
	case "HOME", "PATH", "PWD", "OLDPWD", "USER", "LOGNAME", "SHELL", "TMPDIR", "LANG", "LC_ALL",
		"TERM", "HOSTNAME", "UID", "EUID", "PPID", "RANDOM", "SECONDS", "LINENO", "IFS", "REPLY",
		"BASH", "BASHPID", "BASH_SOURCE", "BASH_VERSION", "FUNCNAME", "OPTARG", "OPTIND",
		"PIPESTATUS", "HOSTTYPE", "OSTYPE", "EPOCHSECONDS":
		return true
	}
	return false
}

var (
	paramVarRE  = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)`)
	bracedVarRE = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)
	forRE       = regexp.MustCompile(`(?m)\b(?:for|select)\s+([A-Za-z_][A-Za-z0-9_]*)\s+in\b`)
	readRE      = regexp.MustCompile(`(?m)\bread\s+((?:-[A-Za-z]+\s+(?:\S+\s+)?)*)([A-Za-z_][A-Za-z0-9_ \t]*)`)
	declRE      = regexp.MustCompile(`(?m)\b(?:export|local|readonly|declare|typeset)(?:\s+-\w+)*((?:\s+[A-Za-z_][A-Za-z0-9_]*)+)\s*(?:$|;)`)
)

// paramVars returns the variables a drbook parameter value refers to.
func paramVars(s string) []string {
	var out []string
	for _, m := range paramVarRE.FindAllStringSubmatch(s, -1) {
		if m[1] != "" {
			out = append(out, m[1])
		} else {
			out = append(out, m[2])
		}
	}
	return out
}

func bracedVars(s string) []string {
	var out []string
	for _, m := range bracedVarRE.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}

// shellVars returns the variables a shell block expands without assigning
// them itself. It skips single-quoted text and comments, and ${X:-default}
// forms, which do not need a value.
func shellVars(code string) []string {
	if !strings.Contains(code, "$") {
		return nil
	}
	assigned := assignments(code)
	if strings.Contains(code, "for") || strings.Contains(code, "select") {
		for _, m := range forRE.FindAllStringSubmatch(code, -1) {
			assigned[m[1]] = true
		}
	}
	if strings.Contains(code, "read") {
		for _, m := range readRE.FindAllStringSubmatch(code, -1) {
			for _, n := range strings.Fields(m[2]) {
				assigned[n] = true
			}
		}
	}
	if strings.Contains(code, "export") || strings.Contains(code, "local") || strings.Contains(code, "readonly") ||
		strings.Contains(code, "declare") || strings.Contains(code, "typeset") {
		for _, m := range declRE.FindAllStringSubmatch(code, -1) {
			for _, n := range strings.Fields(m[1]) {
				assigned[n] = true
			}
		}
	}
	var out []string
	seen := map[string]bool{}
	inSingle, inDouble := false, false
	rs := code
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		switch {
		case inSingle:
			if c == '\'' {
				inSingle = false
			}
			continue
		case c == '\\':
			i++
			continue
		case c == '\'' && !inDouble:
			inSingle = true
			continue
		case c == '"':
			inDouble = !inDouble
			continue
		case c == '#' && !inDouble && (i == 0 || rs[i-1] == ' ' || rs[i-1] == '\t' || rs[i-1] == '\n' || rs[i-1] == ';'):
			for i < len(rs) && rs[i] != '\n' {
				i++
			}
			continue
		case c != '$' || i+1 >= len(rs):
			continue
		}
		j := i + 1
		braced := rs[j] == '{'
		if braced {
			j++
		}
		k := j
		for k < len(rs) && (rs[k] == '_' || rs[k] >= 'a' && rs[k] <= 'z' || rs[k] >= 'A' && rs[k] <= 'Z' || k > j && rs[k] >= '0' && rs[k] <= '9') {
			k++
		}
		if k == j {
			continue
		}
		name := rs[j:k]
		if braced && k < len(rs) && strings.ContainsRune(":-=+?", rune(rs[k])) {
			i = k
			continue // ${X:-default} and friends cope with an unset X
		}
		i = k - 1
		if !assigned[name] && !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	return out
}

var (
	sqlCommentRE  = regexp.MustCompile(`(?s)/\*.*?\*/|--[^\n]*`)
	sqlWriteRE    = regexp.MustCompile(`(?i)^(insert|update|delete|replace|drop|alter|create|vacuum|reindex|attach|detach)\b|^pragma\s+[a-z_.]+\s*=`)
	sqlCTEWriteRE = regexp.MustCompile(`(?i)\)\s*(insert|update|delete|replace)\b`)
	sqlDotRE      = regexp.MustCompile(`(?m)^\s*\.(restore|import|recover|clone)\b`)
)

// sqlWrite names the first thing in a SQL block that changes data, or "".
func sqlWrite(code string) string {
	if m := sqlDotRE.FindStringSubmatch(code); m != nil && m[1] != "recover" {
		return "." + m[1]
	}
	clean := sqlCommentRE.ReplaceAllString(code, "")
	for _, stmt := range strings.Split(clean, ";") {
		// Dot-commands end at a newline, not a semicolon.
		for _, l := range strings.Split(stmt, "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), ".") {
				stmt = strings.Replace(stmt, l, "", 1)
			}
		}
		s := strings.TrimSpace(stmt)
		if strings.HasPrefix(strings.ToUpper(s), "WITH") {
			// WITH ... INSERT/UPDATE/DELETE: look for the verb after the CTEs.
			if m := sqlCTEWriteRE.FindStringSubmatch(s); m != nil {
				return strings.ToUpper(m[1])
			}
			continue
		}
		if m := sqlWriteRE.FindStringSubmatch(s); m != nil {
			if m[1] != "" {
				return strings.ToUpper(m[1])
			}
			return "PRAGMA assignment"
		}
	}
	return ""
}

// assignments finds NAME=, NAME+= and NAME[i]= assignments in shell code
// (after export, local and the like too, since those end in a space).
func assignments(code string) map[string]bool {
	out := map[string]bool{}
	for i := 0; i < len(code); i++ {
		if code[i] != '=' || i+1 < len(code) && code[i+1] == '=' {
			continue
		}
		j := i
		if j > 0 && code[j-1] == '+' {
			j--
		}
		if j > 0 && code[j-1] == ']' {
			k := strings.LastIndexByte(code[:j-1], '[')
			if k < 0 {
				continue
			}
			j = k
		}
		end := j
		for j > 0 && isNameByte(code[j-1]) {
			j--
		}
		if j == end || code[j] >= '0' && code[j] <= '9' {
			continue
		}
		if j > 0 && !strings.ContainsRune(" \t\n;&|(!{", rune(code[j-1])) {
			continue
		}
		out[code[j:end]] = true
	}
	return out
}

func isNameByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// Closest suggests a name for a misspelt one: the nearest of names by edit
// distance, if it is close enough to be a typo, else "".
func Closest(name string, names []string) string {
	best, bestD := "", 3
	for _, n := range names {
		if d := editDistance(name, n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
