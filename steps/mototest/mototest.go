// Package mototest starts a real moto_server (Python moto, on the machine
// image) on a free loopback port for tests that need AWS APIs a fake in
// Go does not serve faithfully: Route 53, and S3's conditional writes.
// It is imported only by tests.
package mototest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Server is a running moto_server.
type Server struct {
	Endpoint string // http://127.0.0.1:PORT
	cmd      *exec.Cmd
}

// Start runs moto_server for the test and stops it (by its PID) when the
// test ends. Without moto_server the test is skipped with a message, except
// under CI (CI=true), where that is a failure: CI must install it.
func Start(tb testing.TB) *Server {
	tb.Helper()
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("moto_server not found on PATH: CI must have it (pip install 'moto[server]')")
		}
		tb.Skip("moto_server not found on PATH (pip install 'moto[server]'): skipping a test that needs a real AWS API server")
	}
	port, err := freePort()
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// No credentials of the machine reach moto, and none are needed.
	cmd.Env = append(os.Environ(), "MOTO_ALLOW_NONEXISTENT_REGION=true")
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start moto_server: %v", err)
	}
	s := &Server{Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd}
	tb.Cleanup(s.Stop)
	if err := s.wait(90 * time.Second); err != nil {
		tb.Fatal(err)
	}
	// The AWS SDK needs credentials to sign; moto accepts any.
	tb.Setenv("AWS_ACCESS_KEY_ID", "testing")
	tb.Setenv("AWS_SECRET_ACCESS_KEY", "testing")
	tb.Setenv("AWS_REGION", "us-east-1")
	tb.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return s
}

// Stop kills the server and its process group by PID and reaps it.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	pid := s.cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// wait polls the server until it answers HTTP, the process exits, or the
// limit passes (a generous one: a loaded CI machine starts Python slowly).
func (s *Server) wait(limit time.Duration) error {
	exited := make(chan error, 1)
	go func() { _, err := s.cmd.Process.Wait(); exited <- err }()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.Endpoint+"/moto-api/", nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case err := <-exited:
			return fmt.Errorf("moto_server exited before it answered: %v", err)
		case <-ctx.Done():
			return errors.New("moto_server did not answer within " + limit.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
