package site_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFailoverSectionIsChecked(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "standby"), 0o755); err != nil {
		t.Fatal(err)
	}
	good := mustParse(t, dir, `failover:
  secondary: standby
  automatic: true
  lb_hook: /bin/true
  dns: {zone: quantai.example, record: trading.quantai.example, secondary: 10.0.2.20, ttl: 30}
  health: {heartbeat_max_age: 2m, http: "http://127.0.0.1:8080/health", interval: 10s, failures: 2}
`)
	for _, p := range problems(good, nil) {
		if strings.Contains(p, "failover") {
			t.Errorf("good failover section: %s", p)
		}
	}
	w, err := good.Failover.Watch()
	if err != nil || w.Interval != 10*time.Second || w.Failures != 2 || w.HeartbeatMaxAge != 2*time.Minute || !w.QuickCheck {
		t.Fatalf("watch settings %+v, %v", w, err)
	}
	v := good.FailoverVars()
	if v["SECONDARY_ROOT"] != filepath.Join(dir, "standby") || v["DNS_VALUE"] != "10.0.2.20" || v["DNS_TTL"] != "30" || v["LB_HOOK"] != "/bin/true" {
		t.Errorf("vars %v", v)
	}

	for _, tc := range []struct{ body, want string }{
		{"failover:\n  secondary: nowhere\n", "drbook.yaml:2: failover.secondary " + filepath.Join(dir, "nowhere")},
		{"failover:\n  dns: {zone: quantai.example, record: trading.quantai.example}\n", "failover.dns has no secondary"},
		{"failover:\n  dns: {type: MX}\n", `failover.dns.type "MX"`},
		{"failover:\n  automatic: true\n", "failover.automatic is true but there is no secondary"},
		{"failover:\n  health: {interval: soon}\n", "failover.health.interval"},
		{"failover:\n  health: {failures: -1}\n", "failover.health.failures"},
		{"failover:\n  health: {http: ftp://x}\n", "failover.health.http"},
		{"failover:\n  health: {heartbeat_max_age: \"0\", quick_check: false}\n", "probes nothing"},
		{"failover:\n  healht: {}\n", "healht"},
	} {
		c := mustParse(t, dir, tc.body)
		ps := strings.Join(problems(c, nil), "\n")
		if !strings.Contains(ps, tc.want) {
			t.Errorf("%q: problems\n%s\nwant %q", tc.body, ps, tc.want)
		}
	}
}
