package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/steps/s3fake"
	"github.com/drbook/drbook/ui/cli"
)

// s3Env starts an in-process S3 server with bucket "drills" and returns
// the environment that points drbook at it. The AWS SDK reads its
// credentials from the process environment.
func s3Env(t *testing.T) map[string]string {
	t.Helper()
	srv := s3fake.Start(t, "drills")
	return map[string]string{"DRBOOK_S3": "s3://drills/quantai", "DRBOOK_S3_ENDPOINT": srv.Endpoint}
}

func envCmd(env map[string]string, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := cli.Main(context.Background(), args, &cli.IO{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string { return env[k] }})
	return code, out.String(), errb.String()
}

// TestEveryScheduledTestIsADrill plays, for each test on the plan's
// schedule, the first runbook it maps to with its default fault, as
// 'drbook drill RUNBOOK --auto' does in cron and CI: each must pass, and
// 'drbook drills' must count it as that test.
func TestEveryScheduledTestIsADrill(t *testing.T) {
	if testing.Short() {
		t.Skip("plays a drill of every scheduled test")
	}
	env := s3Env(t)
	for _, test := range incident.Tests {
		t.Run(test.ID, func(t *testing.T) {
			if len(test.Runbooks) == 0 {
				t.Fatalf("%s has no runbook", test.ID)
			}
			first := test.Runbooks[0]
			if _, err := runbook.Load(first, nil); err != nil {
				if first == "site-failover" {
					// Written with the standby site and DNS failover; until
					// it is embedded there is nothing to drill here.
					t.Skipf("runbook %s is not embedded in this build", first)
				}
				t.Fatalf("%s maps to %s: %v", test.ID, first, err)
			}
			state := t.TempDir()
			env := map[string]string{"DRBOOK_STATE_DIR": state, "USER": "ci", "DRBOOK_S3": env["DRBOOK_S3"], "DRBOOK_S3_ENDPOINT": env["DRBOOK_S3_ENDPOINT"]}
			code, out, errs := envCmd(env, "drill", first, "--auto", "--json", "--trades", "200")
			if code != cli.ExitOK {
				t.Fatalf("drill %s --auto: exit %d\n%s\n%s", first, code, out, errs)
			}
			var res struct {
				ID string `json:"id"`
				OK bool   `json:"ok"`
			}
			if err := json.Unmarshal([]byte(out[strings.LastIndex(out, "\n{"):]), &res); err != nil || !res.OK {
				t.Fatalf("result %+v (%v)", res, err)
			}
			code, out, errs = envCmd(env, "drills", "--json")
			if code != cli.ExitOK {
				t.Fatalf("drills: exit %d %s", code, errs)
			}
			var list []incident.DrillStatus
			if err := json.Unmarshal([]byte(out), &list); err != nil {
				t.Fatal(err)
			}
			for _, d := range list {
				if len(d.Runbooks) == 0 {
					t.Errorf("drills lists %s without a runbook", d.ID)
				}
				if d.ID == test.ID && (d.LastIncident != res.ID || d.LastStatus != incident.StatusResolved || d.Overdue) {
					t.Errorf("drills: %s last %s (%s), overdue %v; want %s resolved", d.ID, d.LastIncident, d.LastStatus, d.Overdue, res.ID)
				}
			}
		})
	}
}

// A rebuild from S3 alone cannot be rehearsed without S3: the drill is
// refused before anything is made, never played without its point.
func TestHostLostNeedsS3(t *testing.T) {
	state := t.TempDir()
	for _, args := range [][]string{
		{"drill", "cross-platform-recovery", "--auto"},
		{"drill", "complete-system-recovery", "--auto", "--scenario", "corrupt-db,host-lost"},
	} {
		code, out, errs := envCmd(map[string]string{"DRBOOK_STATE_DIR": state}, args...)
		if code != cli.ExitUsage || !strings.Contains(errs, "needs an S3 location") || !strings.Contains(errs, "DRBOOK_S3") {
			t.Errorf("%v: exit %d\n%s%s", args, code, out, errs)
		}
	}
	if _, err := os.Stat(filepath.Join(state, "drills")); !os.IsNotExist(err) {
		t.Errorf("a refused drill left a drill directory (%v)", err)
	}
}

// Stacked scenarios are checked whole before the sandbox is made.
func TestCompositeScenarios(t *testing.T) {
	state := t.TempDir()
	for _, tt := range []struct{ scenario, want string }{
		{"corrupt-db,meteor", `unknown fault scenario: "meteor"`},
		{"delete-db,corrupt-db", "inject delete-db last"},
		{"bad-config,bad-config", "give it once"},
		{"host-lost,bad-config", "inject host-lost last"},
	} {
		code, out, errs := envCmd(map[string]string{"DRBOOK_STATE_DIR": state, "DRBOOK_S3": "s3://b/p"}, "drill", "--auto", "--scenario", tt.scenario)
		if code != cli.ExitUsage || !strings.Contains(errs, tt.want) {
			t.Errorf("--scenario %s: exit %d, want 2 saying %q\n%s%s", tt.scenario, code, tt.want, out, errs)
		}
	}
	if _, err := os.Stat(filepath.Join(state, "drills")); !os.IsNotExist(err) {
		t.Errorf("a refused drill left a drill directory (%v)", err)
	}
	if testing.Short() {
		return
	}
	// Spaces after commas are an operator's way of writing a list.
	code, out, errs := envCmd(map[string]string{"DRBOOK_STATE_DIR": state}, "drill", "full-dr-simulation", "--auto", "--trades", "200",
		"--scenario", "missing-env, orphan-trades ,torn-page")
	if code != cli.ExitOK || !strings.Contains(out, "scenario missing-env,orphan-trades,torn-page") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
}
