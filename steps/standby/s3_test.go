package standby_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/drbook/drbook/steps"
	"github.com/drbook/drbook/steps/mototest"
	"github.com/drbook/drbook/steps/sandbox"
	"github.com/drbook/drbook/steps/standby"
)

// The secondary is warmed from S3 alone (moto's S3): the local backup
// folder is empty, the newest counted backup is in the bucket.
func TestSyncFromS3(t *testing.T) {
	if testing.Short() {
		t.Skip("runs moto_server")
	}
	srv := mototest.Start(t)
	ctx := context.Background()
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.BaseEndpoint = aws.String(srv.Endpoint); o.UsePathStyle = true })
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("quantai-backups")}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	primary, secondary := filepath.Join(dir, "primary"), filepath.Join(dir, "secondary")
	for i, r := range []string{primary, secondary} {
		if err := sandbox.Create(ctx, r, sandbox.Options{Trades: sandbox.MinTrades, Seed: int64(i + 1)}); err != nil {
			t.Fatal(err)
		}
	}
	local := filepath.Join(dir, "backups")
	s3p := map[string]string{"s3": "s3://quantai-backups/prod", "s3-endpoint": srv.Endpoint}
	b, _ := steps.Lookup("backup")
	if r, err := b.Run(ctx, steps.Request{Env: steps.Env{Root: primary, Drill: true, BackupDir: local}, Params: s3p}, nil); err != nil || r.Status != steps.StatusOK {
		t.Fatalf("backup to S3: %+v, %v", r, err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.MkdirAll(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	params := map[string]string{"backups": empty, "s3": s3p["s3"], "s3-endpoint": srv.Endpoint}
	res, err := standby.Sync(ctx, steps.Env{Root: primary, Drill: true}, secondary, params, nil)
	if err != nil {
		t.Fatalf("sync from S3: %v", err)
	}
	if !strings.HasPrefix(res.Source, "s3://quantai-backups/prod/") || res.BackupTime.IsZero() || res.Behind < 0 {
		t.Fatalf("sync from S3: %+v", res)
	}
}
