package reconcile

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Evidence is a broker statement or API answer kept beside an incident:
// the bytes reconciliation read, so that the timeline's result can be
// checked against them later.
type Evidence struct {
	Broker string `json:"broker"`
	Source string `json:"source"` // the statement's path, or the API's URL
	Path   string `json:"path"`   // the kept copy
	SHA256 string `json:"sha256"` // of the kept copy, which is the bytes read
	Bytes  int    `json:"bytes"`
}

// EvidenceDir is where reconciliation keeps the statements and API answers
// it read for an incident: STATE_DIR/evidence/INCIDENT-ID, beside the
// state database and the reports.
func EvidenceDir(stateDir, incidentID string) string {
	return filepath.Join(stateDir, "evidence", incidentID)
}

// keepEvidence writes data into dir under a new name
// (reconcile-20261202T062512Z-ibkr-statement.csv) and never over an
// existing file. The file is readable by its owner only: positions are
// confidential.
func keepEvidence(dir string, now time.Time, broker, kind, ext string, data []byte, source string) (Evidence, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Evidence{}, fmt.Errorf("keep evidence: %w", err)
	}
	stem := fmt.Sprintf("reconcile-%s-%s-%s", now.UTC().Format("20060102T150405Z"), broker, kind)
	for i := 1; ; i++ {
		name := stem + ext
		if i > 1 {
			name = stem + "-" + strconv.Itoa(i) + ext
		}
		path := filepath.Join(dir, name)
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) && i < 1000 {
			continue
		}
		if err != nil {
			return Evidence{}, fmt.Errorf("keep evidence: %w", err)
		}
		_, err = f.Write(data)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(path)
			return Evidence{}, fmt.Errorf("keep evidence %s: %w", path, err)
		}
		sum := sha256.Sum256(data)
		return Evidence{Broker: broker, Source: source, Path: path, SHA256: hex.EncodeToString(sum[:]), Bytes: len(data)}, nil
	}
}
