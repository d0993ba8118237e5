// Package table lays rows out as the plain-text tables actions print (SQL
// results, reconciliation breaks), so that every action renders them alike
// without importing another.
package table

import "strings"

// MaxCell is the widest a table cell is shown; longer values are cut.
const MaxCell = 60

// Render lays rows out as a plain-text table with a header rule.
// Cells wider than MaxCell are cut with "...".
func Render(cols []string, rows [][]string) []string {
	w := make([]int, len(cols))
	cut := func(s string) string {
		s = strings.ReplaceAll(s, "\n", `\n`)
		if r := []rune(s); len(r) > MaxCell {
			return string(r[:MaxCell-3]) + "..."
		}
		return s
	}
	for i, c := range cols {
		w[i] = len([]rune(cut(c)))
	}
	for _, row := range rows {
		for i, c := range row {
			if n := len([]rune(cut(c))); n > w[i] {
				w[i] = n
			}
		}
	}
	line := func(cells []string) string {
		var b strings.Builder
		for i, c := range cells {
			if i > 0 {
				b.WriteString("  ")
			}
			c = cut(c)
			b.WriteString(c)
			if i < len(cells)-1 {
				b.WriteString(strings.Repeat(" ", w[i]-len([]rune(c))))
			}
		}
		return strings.TrimRight(b.String(), " ")
	}
	out := []string{line(cols)}
	rule := make([]string, len(cols))
	for i := range cols {
		rule[i] = strings.Repeat("-", w[i])
	}
	out = append(out, line(rule))
	for _, row := range rows {
		out = append(out, line(row))
	}
	return out
}
