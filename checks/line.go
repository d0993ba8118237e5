package checks

import (
	"fmt"
	"strings"
)

// Line renders a finding as one line of text: "FAIL data-validation
// audit-gaps: 1 gap in the audit trail".
func Line(f Finding) string {
	return fmt.Sprintf("%s %s %s: %s", strings.ToUpper(string(f.Status)), f.Check, f.Item, f.Message)
}
