package backup

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Entry is one backup found in a local directory or on S3.
type Entry struct {
	Name     string    `json:"name"`
	Location string    `json:"location"` // "local" or "s3"
	Path     string    `json:"path"`     // file path or s3:// URL
	Created  time.Time `json:"created"`
	Tier     int       `json:"tier"`
	Size     int64     `json:"size"`
	// Status is what the catalogue can vouch for: only a verified backup
	// counts (toward the RPO, as latest, as a backup prune must keep).
	Status Status `json:"status"`
	// Kind is "drbook", or "plan-script" for an archive of the plan's own
	// script (no manifest; checked by integrity check alone on restore).
	Kind string `json:"kind"`
	// Problem says why a backup does not count.
	Problem  string    `json:"problem,omitempty"`
	Manifest *Manifest `json:"-"`
}

// Counts reports whether the backup counts toward the RPO, as latest and
// as a backup prune must keep: only a verified one does.
func (e Entry) Counts() bool { return e.Status.Counts() }

// Source is where backups are listed from.
type Source struct {
	Dir string    // local directory; "" to skip
	S3  *S3Config // nil to skip
}

var (
	drbookName = regexp.MustCompile(`^quantai_(\d{8}T\d{6}Z)_t([123])(?:_\d+)?\.tar\.gz\.gpg$`)
	planName   = regexp.MustCompile(`^(\d{8}_\d{6})\.tar\.gz\.gpg$`)
)

// List returns the backups in src, newest first. A missing local
// directory is an empty list, not an error. When S3 cannot be listed it
// returns the local backups with an error wrapping ErrStore.
func List(ctx context.Context, src Source) ([]Entry, error) {
	var out []Entry
	var err error
	if src.Dir != "" {
		local, lerr := listLocal(src.Dir)
		if lerr != nil {
			return nil, lerr
		}
		out = append(out, local...)
	}
	if src.S3 != nil {
		remote, rerr := listS3(ctx, *src.S3)
		if rerr != nil {
			err = storeErr(rerr)
		}
		out = append(out, remote...)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.After(out[j].Created)
		}
		return out[i].Location < out[j].Location // local first
	})
	return out, err
}

// Latest returns the newest backup that counts (verified), local before
// S3 at equal times. When none counts it returns an error wrapping
// ErrNoBackup that lists what exists and why each does not count.
func Latest(entries []Entry) (Entry, error) {
	for _, e := range entries {
		if e.Counts() {
			return e, nil
		}
	}
	return Entry{}, noCounted(entries)
}

func listLocal(dir string) ([]Entry, error) {
	des, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list backups: %w", err)
	}
	var out []Entry
	for _, de := range des {
		name := de.Name()
		if strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".tar.gz.gpg") || !de.Type().IsRegular() {
			continue
		}
		p := filepath.Join(dir, name)
		fi, err := de.Info()
		if err != nil {
			continue
		}
		e := Entry{Name: name, Location: "local", Path: p, Size: fi.Size(), Created: fi.ModTime().UTC(), Status: StatusUnverified}
		nameInfo(&e)
		if m, err := ReadManifest(p + ManifestSuffix); err == nil {
			e.Manifest = m
			e.Created, e.Tier, e.Kind = m.Created, m.Tier, "drbook"
			switch {
			case m.Archive != name:
				e.Problem = "manifest names another archive (" + m.Archive + ")"
			case m.ArchiveSize != fi.Size():
				e.Problem = fmt.Sprintf("archive is %d bytes, manifest says %d", fi.Size(), m.ArchiveSize)
			default:
				e.Status, e.Problem = m.status()
			}
		} else if !errors.Is(err, fs.ErrNotExist) {
			e.Problem = err.Error()
		} else {
			e.Problem = noManifest(e.Kind)
		}
		out = append(out, e)
	}
	return out, nil
}

// nameInfo fills time, tier and kind from an archive's name.
func nameInfo(e *Entry) {
	if m := drbookName.FindStringSubmatch(e.Name); m != nil {
		if t, err := time.Parse(stampLayout, m[1]); err == nil {
			e.Created = t
		}
		e.Tier, _ = strconv.Atoi(m[2])
		e.Kind = "drbook"
		return
	}
	if m := planName.FindStringSubmatch(e.Name); m != nil {
		// The plan's script names archives with `date` in local time.
		if t, err := time.ParseInLocation("20060102_150405", m[1], time.Local); err == nil {
			e.Created = t.UTC()
		}
		e.Kind = "plan-script"
		return
	}
	e.Kind = "unknown"
}

func listS3(ctx context.Context, c S3Config) ([]Entry, error) {
	s, err := NewS3(ctx, c)
	if err != nil {
		return nil, err
	}
	objs, err := s.list(ctx)
	if err != nil {
		return nil, err
	}
	var out []Entry
	for _, o := range objs {
		e := Entry{Name: o.name, Location: "s3", Path: s.URL(o.name), Size: o.size, Created: o.modified.UTC(), Status: StatusUnverified}
		nameInfo(&e)
		if o.manifest {
			m, err := s.manifest(ctx, o.name)
			switch {
			case err != nil:
				e.Problem = err.Error()
			case m.Archive != o.name:
				e.Problem = "manifest names another archive (" + m.Archive + ")"
			case m.ArchiveSize != o.size:
				e.Problem = fmt.Sprintf("object is %d bytes, manifest says %d", o.size, m.ArchiveSize)
			default:
				e.Manifest, e.Created, e.Tier, e.Kind = m, m.Created, m.Tier, "drbook"
				e.Status, e.Problem = m.status()
			}
		} else {
			e.Problem = noManifest(e.Kind)
		}
		out = append(out, e)
	}
	return out, nil
}

// noManifest says why an archive without a manifest does not count.
func noManifest(kind string) string {
	switch kind {
	case "drbook":
		return "no manifest: never verified (interrupted backup?)"
	case "plan-script":
		return "no manifest: an archive of the plan's script; name it with restore --from, which checks it by integrity check alone"
	}
	return "no manifest"
}
