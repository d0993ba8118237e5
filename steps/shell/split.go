package shell

import (
	"fmt"
	"strings"
)

// segment is one piece of a SQL block: a statement, or a sqlite shell
// dot-command on a line of its own.
type segment struct {
	dot  bool
	text string // the statement without comments, or the dot-command line
	line int    // line in the block where it starts, from 1
}

// splitSQL cuts a SQL block into statements and dot-commands the way the
// sqlite3 shell reads them: a dot-command is a line that starts with "."
// outside any statement; statements end with ";" outside quotes, comments
// and trigger bodies. A last statement without ";" still counts.
func splitSQL(code string) ([]segment, error) {
	var (
		out        []segment
		stmt       strings.Builder
		hasContent bool
		start      int
		line       = 1
		lineStart  = true
	)
	flush := func() {
		if t := strings.TrimSpace(stmt.String()); hasContent && t != "" {
			out = append(out, segment{text: t, line: start})
		}
		stmt.Reset()
		hasContent = false
	}
	n := len(code)
	for i := 0; i < n; i++ {
		c := code[i]
		switch {
		case c == '.' && lineStart && !hasContent:
			j := strings.IndexByte(code[i:], '\n')
			if j < 0 {
				j = n - i
			}
			out = append(out, segment{dot: true, text: strings.TrimSpace(code[i : i+j]), line: line})
			i += j - 1 // the newline is handled next round
			lineStart = false
		case c == '\n':
			line++
			lineStart = true
			stmt.WriteByte(c)
		case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
			stmt.WriteByte(c)
		case c == '-' && i+1 < n && code[i+1] == '-':
			j := strings.IndexByte(code[i:], '\n')
			if j < 0 {
				j = n - i
			}
			i += j - 1
			stmt.WriteByte(' ')
		case c == '/' && i+1 < n && code[i+1] == '*':
			j := strings.Index(code[i+2:], "*/")
			if j < 0 {
				return nil, fmt.Errorf("line %d: unterminated /* comment", line)
			}
			line += strings.Count(code[i:i+2+j+2], "\n")
			i += 2 + j + 1
			stmt.WriteByte(' ')
		case c == '\'' || c == '"' || c == '`' || c == '[':
			if !hasContent {
				hasContent, start = true, line
			}
			lineStart = false
			closer := c
			if c == '[' {
				closer = ']'
			}
			j := i + 1
			for ; j < n; j++ {
				if code[j] == closer {
					if closer != ']' && j+1 < n && code[j+1] == closer {
						j++ // doubled quote
						continue
					}
					break
				}
			}
			if j >= n {
				return nil, fmt.Errorf("line %d: unterminated %c quote", line, c)
			}
			stmt.WriteString(code[i : j+1])
			line += strings.Count(code[i:j+1], "\n")
			i = j
		case c == ';':
			lineStart = false
			if !hasContent {
				continue
			}
			if isTrigger(stmt.String()) && !endsWithEnd(stmt.String()) {
				stmt.WriteByte(c)
				continue
			}
			stmt.WriteByte(c)
			flush()
		default:
			if !hasContent {
				hasContent, start = true, line
			}
			lineStart = false
			stmt.WriteByte(c)
		}
	}
	flush()
	return out, nil
}

func isTrigger(s string) bool {
	f := strings.Fields(strings.ToUpper(s))
	if len(f) < 2 || f[0] != "CREATE" {
		return false
	}
	if f[1] == "TEMP" || f[1] == "TEMPORARY" {
		f = f[1:]
	}
	return len(f) > 1 && f[1] == "TRIGGER"
}

func endsWithEnd(s string) bool {
	f := strings.Fields(strings.ToUpper(s))
	return len(f) > 0 && f[len(f)-1] == "END"
}
