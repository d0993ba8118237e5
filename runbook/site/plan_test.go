package site_test

import (
	"strings"
	"testing"
	"time"

	"github.com/drbook/drbook/runbook/site"
)

// plan.reviewed as people type it: a date, an old date, something else.
func TestCheckPlanReviewed(t *testing.T) {
	now := time.Date(2026, time.December, 1, 0, 0, 0, 0, time.UTC)
	for yaml, want := range map[string]string{
		"plan:\n  reviewed: 2026-06-30\n":     "",
		"plan:\n  reviewed: 2025-06-30\n":     "warning: the plan was last reviewed 2025-06-30, over a year ago",
		"plan:\n  reviewed: \"30/06/2026\"\n": `error: plan.reviewed: "30/06/2026" is not a date`,
		"plan:\n  reviewd: 2026-06-30\n":      `unknown key "reviewd"`,
	} {
		c, err := site.Parse([]byte(yaml))
		if err != nil {
			t.Fatalf("%q: %v", yaml, err)
		}
		var got []string
		for _, p := range c.Check(now, nil) {
			if strings.HasPrefix(p.Key, "plan") {
				got = append(got, string(p.Level)+": "+p.Msg)
			}
		}
		all := strings.Join(got, "\n")
		if (want == "") != (all == "") || !strings.Contains(all, want) {
			t.Errorf("%q: problems %q, want %q", yaml, all, want)
		}
	}
}
