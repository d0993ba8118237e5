// Package s3fake starts an in-process S3 server (gofakes3, in memory) for
// tests of plain S3 use: backups to S3, a drill's copy, a rebuild from S3
// alone. Tests that need S3's conditional writes use a real moto_server
// (steps/mototest). It is imported only by tests.
package s3fake

import (
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Server is a running in-memory S3 server.
type Server struct {
	Endpoint string // http://127.0.0.1:PORT
	Backend  *s3mem.Backend
}

// Start runs a server holding bucket for the test, stopped when it ends,
// and points the AWS SDK in this process at test credentials with no
// configuration file and no instance metadata (Env gives the same to a
// child process).
func Start(tb testing.TB, bucket string) *Server {
	tb.Helper()
	be := s3mem.New()
	if err := be.CreateBucket(bucket); err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(be).Server())
	tb.Cleanup(srv.Close)
	s := &Server{Endpoint: srv.URL, Backend: be}
	for k, v := range s.Env(tb.TempDir()) {
		tb.Setenv(k, v)
	}
	return s
}

// Env is the AWS SDK environment for the server's test credentials; dir
// is where the (absent) configuration files would be.
func (s *Server) Env(dir string) map[string]string {
	none := filepath.Join(dir, "none")
	return map[string]string{"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1",
		"AWS_CONFIG_FILE": none, "AWS_SHARED_CREDENTIALS_FILE": none, "AWS_EC2_METADATA_DISABLED": "true"}
}

// Objects lists the keys in bucket.
func (s *Server) Objects(tb testing.TB, bucket string) []string {
	tb.Helper()
	res, err := s.Backend.ListBucket(bucket, nil, gofakes3.ListBucketPage{})
	if err != nil {
		tb.Fatal(err)
	}
	var keys []string
	for _, c := range res.Contents {
		keys = append(keys, c.Key)
	}
	return keys
}
