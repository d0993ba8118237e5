package backup_test

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/drbook/drbook/steps/backup"
)

// MustS3 starts an in-process S3 server with bucket "bk". cut, when set,
// decides per request whether to cut the connection off mid-body.
func MustS3(tb testing.TB, cut func(r *http.Request) bool) (*backup.S3Config, *s3mem.Backend) {
	tb.Helper()
	be := s3mem.New()
	if err := be.CreateBucket("bk"); err != nil {
		tb.Fatal(err)
	}
	h := gofakes3.New(be).Server()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if cut != nil && cut(r) {
			io.CopyN(io.Discard, r.Body, 1<<20) // take part of the body, then drop the line
			if hj, ok := w.(http.Hijacker); ok {
				c, _, _ := hj.Hijack()
				c.Close()
				return
			}
		}
		h.ServeHTTP(w, r)
	}))
	tb.Cleanup(srv.Close)
	dir := tb.TempDir()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1",
		"AWS_CONFIG_FILE": filepath.Join(dir, "none"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "none"),
		"AWS_EC2_METADATA_DISABLED": "true",
	} {
		tb.Setenv(k, v)
	}
	return &backup.S3Config{URL: "s3://bk/quantai/daily", Endpoint: srv.URL, PartSize: 5 << 20}, be
}

// bigRoot is a root whose archive needs several multipart parts.
func bigRoot(tb testing.TB) string {
	root := MustRoot(tb, "big", 100)
	f, err := os.Create(filepath.Join(root, "config", "model.bin"))
	if err != nil {
		tb.Fatal(err)
	}
	io.CopyN(f, rand.Reader, 12<<20)
	f.Close()
	return root
}

func TestS3BackupListRestore(t *testing.T) {
	cfg, _ := MustS3(t, nil)
	root := bigRoot(t)
	dir := t.TempDir()
	taken := time.Date(2026, 1, 4, 11, 0, 0, 0, time.UTC)
	out, err := backup.Backup(context.Background(), backup.Options{Root: root, Dir: dir, S3: cfg,
		Passphrase: []byte(testPass), Now: func() time.Time { return taken }})
	if err != nil {
		t.Fatal(err)
	}
	if out.S3URL != "s3://bk/quantai/daily/"+out.Manifest.Archive {
		t.Errorf("s3 url %q", out.S3URL)
	}
	entries, err := backup.List(context.Background(), backup.Source{S3: cfg})
	if err != nil || len(entries) != 1 || !entries[0].Counts() || entries[0].Size != out.Manifest.ArchiveSize || entries[0].Location != "s3" {
		t.Fatalf("s3 list: %+v %v", entries, err)
	}
	// Restore "latest" from S3 alone (the local copy is gone).
	os.RemoveAll(dir)
	live := MustRoot(t, "live", 2)
	o := restoreOpts(live, "latest")
	o.S3 = cfg
	res, err := backup.Restore(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if !res.BackupTime.Equal(taken) || !strings.HasPrefix(res.Source, "s3://bk/quantai/daily/") {
		t.Errorf("result %+v", res)
	}
	if MustMarker(t, filepath.Join(live, "data", "quantai.db")) != "big" {
		t.Error("database not restored from S3")
	}
	if MustRead(t, filepath.Join(live, "config", "model.bin")) != MustRead(t, filepath.Join(root, "config", "model.bin")) {
		t.Error("config/model.bin differs after the S3 round trip")
	}
}

// TestS3UploadCutOff: the connection drops during the second part every
// time. The backup fails loudly, the multipart upload is aborted, nothing
// is listed on S3, and the local backup is still good.
func TestS3UploadCutOff(t *testing.T) {
	var cuts atomic.Int32
	cfg, be := MustS3(t, func(r *http.Request) bool {
		if r.Method == http.MethodPut && r.URL.Query().Get("partNumber") == "2" {
			cuts.Add(1)
			return true
		}
		return false
	})
	root := bigRoot(t)
	dir := t.TempDir()
	out, err := backup.Backup(context.Background(), backup.Options{Root: root, Dir: dir, S3: cfg, Passphrase: []byte(testPass)})
	if err == nil {
		t.Fatal("backup with a cut-off upload succeeded")
	}
	if cuts.Load() == 0 {
		t.Fatal("the upload was never cut")
	}
	if out == nil || out.S3Err == nil || !strings.Contains(err.Error(), "S3 copy failed") {
		t.Fatalf("error %v, outcome %+v", err, out)
	}
	entries, err := backup.List(context.Background(), backup.Source{S3: cfg})
	if err != nil || len(entries) != 0 {
		t.Errorf("s3 holds %+v after a cut-off upload (%v)", entries, err)
	}
	objs, err := be.ListBucket("bk", &gofakes3.Prefix{}, gofakes3.ListBucketPage{})
	if err != nil || len(objs.Contents) != 0 {
		t.Errorf("bucket not empty: %+v %v", objs, err)
	}
	if _, err := backup.Latest(entries); !errors.Is(err, backup.ErrNoBackup) {
		t.Error("a cut-off upload is taken as latest")
	}
	local, _ := backup.List(context.Background(), backup.Source{Dir: dir})
	if len(local) != 1 || !local[0].Counts() {
		t.Errorf("local backup: %+v", local)
	}
}
