package backup

import (
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// ManifestFormat is the version of the manifest written by this build.
// Format 2 adds Source (the full check of the snapshot) and ReadBack, and
// sets Verified only for a backup that counts. Format 1 manifests are still
// read; see Manifest.Status for what they count as.
const ManifestFormat = 2

// ManifestSuffix is appended to an archive's name to name its manifest.
const ManifestSuffix = ".manifest.json"

// Manifest describes one backup. It is written beside the archive only
// after the archive has been read back and re-hashed; whether the backup
// counts is its Status.
type Manifest struct {
	Format        int         `json:"format"`
	Tool          string      `json:"tool"`
	Created       time.Time   `json:"created"`
	Tier          int         `json:"tier"`
	Host          string      `json:"host"`
	Root          string      `json:"root"`
	Archive       string      `json:"archive"`
	ArchiveSize   int64       `json:"archive_size"`
	ArchiveSHA256 string      `json:"archive_sha256"`
	Encryption    string      `json:"encryption"`
	Compression   string      `json:"compression"`
	Prefix        string      `json:"prefix"` // directory inside the tar holding everything
	Files         []FileEntry `json:"files"`
	DB            *DBInfo     `json:"db,omitempty"`
	// Source is the check of the database snapshot at backup time: a full
	// integrity_check and the plan's data validation. Nil in format 1.
	Source *SourceCheck `json:"source,omitempty"`
	// ReadBack is when the archive was read back and every file re-hashed.
	ReadBack time.Time `json:"read_back,omitzero"`
	// Verified is set, to the read-back time, only when the snapshot also
	// passed its checks: a damaged-source manifest never says verified.
	Verified    time.Time   `json:"verified,omitzero"`
	RestoreTest *TestResult `json:"restore_test,omitempty"`
	// LastFailedTest keeps the last failed restore test once a later one
	// has passed.
	LastFailedTest *TestResult `json:"last_failed_restore_test,omitempty"`
}

// FileEntry is one regular file in the archive, by its path relative to
// the system root (data/quantai.db, config/settings.yaml, .env...).
type FileEntry struct {
	Path   string      `json:"path"`
	Size   int64       `json:"size"`
	SHA256 string      `json:"sha256"`
	Mode   os.FileMode `json:"mode"`
}

// DBInfo records the database snapshot at backup time.
type DBInfo struct {
	PageCount int64 `json:"page_count"`
	PageSize  int64 `json:"page_size"`
	// QuickCheck is what format 1 recorded; format 2 records the full
	// integrity_check in Manifest.Source and leaves this empty.
	QuickCheck string           `json:"quick_check,omitempty"`
	Tables     map[string]int64 `json:"tables,omitempty"` // row counts of the plan's critical tables

	objects int64 // entries in sqlite_schema; not recorded
}

// TestResult is the outcome of the last `drbook verify` restore test.
type TestResult struct {
	Time    time.Time `json:"time"`
	OK      bool      `json:"ok"`
	Summary string    `json:"summary"`
}

// TotalSize is the plaintext size of every file in the backup.
func (m *Manifest) TotalSize() int64 {
	var n int64
	for _, f := range m.Files {
		n += f.Size
	}
	return n
}

// ReadManifest reads and checks a manifest file.
func ReadManifest(path string) (*Manifest, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	return parseManifest(b, path)
}

func parseManifest(b []byte, name string) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("manifest %s: %w: %v", name, ErrCorrupt, err)
	}
	if m.Format < 1 || m.Format > ManifestFormat {
		return nil, fmt.Errorf("manifest %s: unsupported format %d (this drbook reads up to %d)", name, m.Format, ManifestFormat)
	}
	if m.Archive == "" || len(m.ArchiveSHA256) != 64 || m.Prefix == "" {
		return nil, fmt.Errorf("manifest %s: %w: missing archive name, hash or prefix", name, ErrCorrupt)
	}
	return &m, nil
}

func (m *Manifest) marshal() []byte {
	b, _ := json.MarshalIndent(m, "", "  ")
	return append(b, '\n')
}
