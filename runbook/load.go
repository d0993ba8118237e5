package runbook

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/drbook/drbook/runbook/hint"
	"github.com/drbook/drbook/runbooks"
)

// ErrNotFound is returned by Load when a reference names no runbook. It is
// bad input (hint.IsInput).
var ErrNotFound = hint.NewInput("runbook not found")

// DefaultID is the runbook drills use when none is named.
const DefaultID = "complete-system-recovery"

// NotFoundError says which runbook was asked for and what exists.
type NotFoundError struct {
	Ref   string
	Known []string // ids that would have been found
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("runbook %q not found", e.Ref)
}

// Hint tells the operator what to do instead; it makes *NotFoundError a
// hint.Hinter.
func (e *NotFoundError) Hint() string {
	return "known runbooks: " + strings.Join(e.Known, ", ") + " (or give a path to a .md file; 'drbook list' shows them all)"
}

func (e *NotFoundError) Unwrap() error { return ErrNotFound }

var _ hint.Hinter = (*NotFoundError)(nil)

// ReadFile reads and parses a runbook file, refusing files over MaxSize
// before reading them.
func ReadFile(path string) (*Runbook, error) {
	// Look before opening: opening a FIFO blocks until someone writes to
	// it, and no signal interrupts the wait.
	if st, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("read runbook: %w", err)
	} else if st.IsDir() {
		return nil, fmt.Errorf("read runbook %s: is a directory", path)
	} else if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("read runbook %s: not a regular file (a FIFO, device or socket)", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read runbook: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read runbook: %w", err)
	}
	if st.Size() > MaxSize {
		return nil, Problems{{File: path, Line: 1,
			Msg:  fmt.Sprintf("file is %d bytes, over the %d MiB limit for a runbook", st.Size(), MaxSize>>20),
			Hint: "a runbook is a Markdown document; check the path"}}
	}
	src, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("read runbook: %w", err)
	}
	return Parse(src, path)
}

// Embedded parses every embedded runbook, sorted by id.
func Embedded() ([]*Runbook, error) {
	names, err := fs.Glob(runbooks.FS, "*.md")
	if err != nil {
		return nil, err
	}
	var out []*Runbook
	for _, n := range names {
		rb, err := embedded(n)
		if err != nil {
			return nil, err
		}
		out = append(out, rb)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func embedded(file string) (*Runbook, error) {
	src, err := runbooks.FS.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return Parse(src, "embedded:"+file)
}

// Load resolves ref to a runbook: a path to a Markdown file; a folder that
// holds exactly one; the id (front matter id or file name) of a runbook in
// one of dirs, searched in order; or the id of an embedded runbook. Folders
// in dirs come first, so an operator's copy of an embedded runbook wins.
func Load(ref string, dirs []string) (*Runbook, error) {
	if ref == "" {
		ref = DefaultID
	}
	if st, err := os.Stat(ref); err == nil {
		if !st.IsDir() {
			return ReadFile(ref)
		}
		files, err := mdFiles(ref)
		if err != nil {
			return nil, err
		}
		switch len(files) {
		case 1:
			return ReadFile(files[0])
		case 0:
			return nil, fmt.Errorf("load runbook: folder %s holds no .md files", ref)
		default:
			return nil, fmt.Errorf("load runbook: folder %s holds %d runbooks; name one of them (or use --runbooks %s and an id)", ref, len(files), ref)
		}
	} else if looksLikePath(ref) {
		return nil, fmt.Errorf("load runbook: %w", err)
	}
	var known []string
	for _, d := range dirs {
		files, err := mdFiles(d)
		if err != nil {
			return nil, err
		}
		// A file named after the id is found without parsing the others.
		for _, f := range files {
			if idFromName(f) == ref {
				rb, err := ReadFile(f)
				if err == nil && rb.ID != ref {
					break // its front matter renames it; search by id below
				}
				return rb, err
			}
		}
		for _, f := range files {
			rb, err := ReadFile(f)
			if err != nil {
				continue // broken files are reported by List and validate
			}
			if rb.ID == ref {
				return rb, nil
			}
			known = append(known, rb.ID)
		}
	}
	names, _ := fs.Glob(runbooks.FS, "*.md")
	for _, n := range names {
		if strings.TrimSuffix(n, ".md") == ref {
			return embedded(n)
		}
	}
	for _, n := range names {
		known = append(known, strings.TrimSuffix(n, ".md"))
	}
	sort.Strings(known)
	return nil, &NotFoundError{Ref: ref, Known: known}
}

func looksLikePath(ref string) bool {
	return strings.ContainsAny(ref, `/\`) || strings.HasSuffix(strings.ToLower(ref), ".md")
}

// mdFiles lists the Markdown files directly in dir, sorted.
func mdFiles(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("runbook folder: %w", err)
	}
	var out []string
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() || strings.HasPrefix(n, ".") {
			continue
		}
		if ext := strings.ToLower(filepath.Ext(n)); ext == ".md" || ext == ".markdown" {
			out = append(out, filepath.Join(dir, n))
		}
	}
	return out, nil
}

// List returns every runbook drbook knows: those in dirs (in order) and the
// embedded ones, one per id, the first found winning, sorted by id. Files
// that do not parse are left out and reported together in the error, so a
// caller can show the good ones and the problems.
func List(dirs []string) ([]*Runbook, error) {
	seen := map[string]bool{}
	var out []*Runbook
	var errs []error
	for _, d := range dirs {
		files, err := mdFiles(d)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, f := range files {
			rb, err := ReadFile(f)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if !seen[rb.ID] {
				seen[rb.ID] = true
				out = append(out, rb)
			}
		}
	}
	emb, err := Embedded()
	if err != nil {
		errs = append(errs, err)
	}
	for _, rb := range emb {
		if !seen[rb.ID] {
			seen[rb.ID] = true
			out = append(out, rb)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, errors.Join(errs...)
}
