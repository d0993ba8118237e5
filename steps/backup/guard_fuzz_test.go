package backup

import (
	"archive/tar"
	"path/filepath"
	"testing"
)

// FuzzCheckEntry: whatever a tar header says, an entry the guard lets
// through is a regular file or directory with a local name.
func FuzzCheckEntry(f *testing.F) {
	for _, s := range []string{"a/b", "../x", "/etc/x", "a/../../b", "./a", "a//b/", "", "..", "a\\..\\b", "a/\x00b"} {
		f.Add(s, byte(tar.TypeReg))
		f.Add(s, byte(tar.TypeDir))
		f.Add(s, byte(tar.TypeSymlink))
	}
	f.Fuzz(func(t *testing.T, name string, typ byte) {
		got, err := checkEntry(&tar.Header{Name: name, Typeflag: typ})
		if err != nil || got == "" {
			return
		}
		if typ != tar.TypeReg && typ != tar.TypeDir {
			t.Fatalf("type %q accepted", typ)
		}
		if !filepath.IsLocal(filepath.FromSlash(got)) {
			t.Fatalf("%q accepted as %q, which is not local", name, got)
		}
	})
}
