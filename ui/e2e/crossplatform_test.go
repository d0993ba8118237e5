package e2e

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// TestCrossPlatformRecoveryOnTheReleaseBinary runs the quarterly
// cross-platform recovery test as the plan asks: the built binary, a
// fresh HOME and state directory, a host emptied of everything (local
// backups included), and the system rebuilt from S3 alone.
func TestCrossPlatformRecoveryOnTheReleaseBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("a full drill on the built binary")
	}
	be := s3mem.New()
	if err := be.CreateBucket("offsite"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(be).Server())
	defer srv.Close()
	home, state := t.TempDir(), t.TempDir()
	cmd := exec.Command(binary, "drill", "cross-platform-recovery", "--auto", "--json", "--trades", "200")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "USER=ci", "DRBOOK_STATE_DIR=" + state,
		"DRBOOK_S3=s3://offsite/quantai", "DRBOOK_S3_ENDPOINT=" + srv.URL,
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_REGION=us-east-1", "AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=" + filepath.Join(home, "none"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "none")}
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
