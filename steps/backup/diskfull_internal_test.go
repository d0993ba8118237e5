package backup

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/drbook/drbook/runbook/hint"
)

// enospcWriter fails like a full disk after limit bytes.
type enospcWriter struct{ n, limit int }

func (w *enospcWriter) Write(p []byte) (int, error) {
	if w.n+len(p) > w.limit {
		return 0, syscall.ENOSPC
	}
	w.n += len(p)
	return len(p), nil
}

// TestArchiveDiskFull covers ENOSPC where no tmpfs can be mounted.
func TestArchiveDiskFull(t *testing.T) {
	aw, err := newArchiveWriter(&enospcWriter{limit: 4096}, []byte("p"), "x", time.Now(), 1)
	if err == nil {
		data := strings.NewReader(strings.Repeat("incompressible? no, but large enough ", 1<<16))
		err = aw.addFile(context.Background(), "data/quantai.db", data, int64(data.Len()), 0o600, time.Now())
		if err == nil {
			err = aw.close()
		}
	}
	err = diskErr("backup: write archive", err)
	if !errors.Is(err, ErrDiskFull) || hint.Of(err) == "" {
		t.Fatalf("error %v, want ErrDiskFull with a hint", err)
	}
}
