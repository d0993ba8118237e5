package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/drbook/drbook/steps/mototest"
	"github.com/drbook/drbook/ui/cli"
)

// s3Cmd runs drbook on a site: its own state directory, the shared
// replica named by $DRBOOK_STATE_S3 at endpoint.
func s3Cmd(t *testing.T, dir, url, endpoint string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := map[string]string{"USER": "tester", "DRBOOK_STATE_DIR": dir, "DRBOOK_STATE_S3": url, "DRBOOK_STATE_S3_ENDPOINT": endpoint}
	code := cli.Main(context.Background(), args, &cli.IO{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string { return env[k] }})
	return code, out.String(), errb.String()
}

func TestStateS3AcrossSites(t *testing.T) {
	srv := mototest.Start(t)
	cfg, err := awsconfig.LoadDefaultConfig(context.Background(), awsconfig.WithRegion("us-east-1"))
	if err != nil {
		t.Fatal(err)
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) { o.BaseEndpoint = aws.String(srv.Endpoint); o.UsePathStyle = true })
	if _, err := client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("drbook-cli")}); err != nil {
		t.Fatal(err)
	}
	url := "s3://drbook-cli/state"
	siteA, siteB := t.TempDir(), t.TempDir()

	code, out, errs := s3Cmd(t, siteA, url, srv.Endpoint, "declare", "complete-system-recovery", "--root", t.TempDir())
	if code != 0 {
		t.Fatalf("declare: %d %s", code, errs)
	}
	id := strings.TrimSpace(out)
	if code, _, errs := s3Cmd(t, siteA, url, srv.Endpoint, "step", id, "kill-switch", "done"); code != 0 || errs != "" {
		t.Fatalf("step: %d %q", code, errs)
	}

	// Site B has never seen it: the listing shows it from S3.
	code, out, errs = s3Cmd(t, siteB, url, srv.Endpoint, "incidents")
	if code != 0 || !strings.Contains(out, id) || !strings.Contains(out, "in S3 only: drbook resume ID") {
		t.Fatalf("incidents on site b: %d\n%s%s", code, out, errs)
	}
	code, out, _ = s3Cmd(t, siteB, url, srv.Endpoint, "incidents", "--json")
	var list []map[string]any
	if err := json.Unmarshal([]byte(out), &list); code != 0 || err != nil || len(list) != 1 || list[0]["only_in_s3"] != true || list[0]["events"].(float64) < 2 {
		t.Fatalf("incidents --json on site b: %d %v %s", code, err, out)
	}

	// A note on site B rebuilds the incident there, verified, and pushes.
	code, _, errs = s3Cmd(t, siteB, url, srv.Endpoint, "note", id, "site", "b", "takes", "over")
	if code != 0 || !strings.Contains(errs, "rebuilt from S3") {
		t.Fatalf("note on site b: %d %q", code, errs)
	}
	code, out, errs = s3Cmd(t, siteB, url, srv.Endpoint, "timeline", "verify", id)
	if code != 0 || !strings.Contains(out, "ok,") || !strings.Contains(out, "identical in s3://drbook-cli/state/") {
		t.Fatalf("verify on site b: %d %s %s", code, out, errs)
	}
	code, out, _ = s3Cmd(t, siteA, url, srv.Endpoint, "timeline", "verify", id)
	if code != 0 || !strings.Contains(out, "1 in S3 not yet here") {
		t.Fatalf("verify on site a: %d %s", code, out)
	}

	// Site A loses its network: the note is kept and queued, not refused.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()
	code, _, errs = s3Cmd(t, siteA, url, closed, "note", id, "written", "offline")
	if code != 0 || !strings.Contains(errs, "1 event not yet replicated, kept here and queued") {
		t.Fatalf("offline note: %d %q", code, errs)
	}
	// Back online, the next command pushes it after site B's note (a rebase).
	code, _, errs = s3Cmd(t, siteA, url, srv.Endpoint, "note", id, "back", "online")
	if code != 0 || !strings.Contains(errs, "another site wrote events") {
		t.Fatalf("note back online: %d %q", code, errs)
	}
	code, out, errs = s3Cmd(t, siteA, url, srv.Endpoint, "timeline", "verify", id)
	if code != 0 || strings.Contains(out, "not yet") {
		t.Fatalf("verify on site a after sync: %d %s %s", code, out, errs)
	}
	code, out, _ = s3Cmd(t, siteA, url, srv.Endpoint, "timeline", id)
	for _, want := range []string{"site b takes over", "written offline", "back online"} {
		if code != 0 || strings.Count(out, want) != 1 {
			t.Errorf("timeline on site a: %q %d times, want once\n%s", want, strings.Count(out, want), out)
		}
	}
}
