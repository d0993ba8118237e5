package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/drbook/drbook/steps/s3fake"
)

// TestCrossPlatformRecoveryOnTheReleaseBinary runs the quarterly
// cross-platform recovery test as the plan asks: the built binary, a
// fresh HOME and state directory, a host emptied of everything (local
// backups included), and the system rebuilt from S3 alone.
func TestCrossPlatformRecoveryOnTheReleaseBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("a full drill on the built binary")
	}
	srv := s3fake.Start(t, "offsite")
	home, state := t.TempDir(), t.TempDir()
	cmd := exec.Command(binary, "drill", "cross-platform-recovery", "--auto", "--json", "--trades", "200")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "USER=ci", "DRBOOK_STATE_DIR=" + state,
		"DRBOOK_S3=s3://offsite/quantai", "DRBOOK_S3_ENDPOINT=" + srv.Endpoint}
	for k, v := range srv.Env(home) {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("drill: %v\n%s\n%s", err, out, stderr.String())
	}
	var res struct {
		ID string `json:"id"`
		OK bool   `json:"ok"`
	}
	s := string(out)
	if err := json.Unmarshal([]byte(s[strings.LastIndex(s, "\n{"):]), &res); err != nil || !res.OK {
		t.Fatalf("result %+v (%v)\n%s", res, err, s)
	}
	for _, want := range []string{"deleting the drill's local backups", "copying the baseline backup to s3://offsite/quantai/drills/"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
	if !strings.Contains(s, "latest verified backup: s3://offsite/quantai/drills/") {
		t.Errorf("the restore did not come from S3:\n%s", s)
	}
}
