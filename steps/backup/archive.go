package backup

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"github.com/klauspost/pgzip"
)

// archiveWriter writes tar → pgzip → OpenPGP onto an io.Writer, hashing
// each file's plaintext on the way.
type archiveWriter struct {
	enc    io.WriteCloser
	gz     *pgzip.Writer
	tw     *tar.Writer
	prefix string
	mtime  time.Time
	files  []FileEntry
	dirs   map[string]bool
	// dirModes holds the modes of directories taken from the system.
	dirModes map[string]os.FileMode
	buf      []byte
	// progress is called with plaintext bytes written so far.
	progress func(done int64)
	done     int64
}

// gzipLevel trades ratio for speed: level 1 on a SQLite file costs a few
// per cent of size and saves most of the CPU time.
const gzipLevel = 1

func newArchiveWriter(w io.Writer, passphrase []byte, prefix string, mtime time.Time, level int) (*archiveWriter, error) {
	enc, err := encrypt(w, passphrase, mtime)
	if err != nil {
		return nil, err
	}
	gz, err := pgzip.NewWriterLevel(enc, level)
	if err != nil {
		return nil, err
	}
	// 1 MiB blocks, a few in flight: bounded memory whatever the input.
	if err := gz.SetConcurrency(1<<20, 4); err != nil {
		return nil, err
	}
	a := &archiveWriter{enc: enc, gz: gz, tw: tar.NewWriter(gz), prefix: prefix, mtime: mtime,
		dirs: map[string]bool{}, dirModes: map[string]os.FileMode{}, buf: make([]byte, 256<<10)}
	a.dirModes[""] = 0o700 // the top directory: the backup is private
	if err := a.addDir(""); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *archiveWriter) addDir(rel string) error {
	if a.dirs[rel] {
		return nil
	}
	if rel != "" {
		if err := a.addDir(parentDir(rel)); err != nil {
			return err
		}
	}
	a.dirs[rel] = true
	name := a.prefix + "/"
	if rel != "" {
		name = a.prefix + "/" + rel + "/"
	}
	mode := int64(0o755)
	if m, ok := a.dirModes[rel]; ok {
		mode = int64(m.Perm())
	}
	return a.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode, ModTime: a.mtime, Format: tar.FormatPAX})
}

func parentDir(rel string) string {
	d := path.Dir(rel)
	if d == "." {
		return ""
	}
	return d
}

// addFile stores size bytes of r under rel (a slash path relative to the
// system root). It fails if r holds fewer bytes than size.
func (a *archiveWriter) addFile(ctx context.Context, rel string, r io.Reader, size int64, mode os.FileMode, mtime time.Time) error {
	if err := a.addDir(parentDir(rel)); err != nil {
		return err
	}
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: a.prefix + "/" + rel, Size: size,
		Mode: int64(mode.Perm()), ModTime: mtime, Format: tar.FormatPAX}
	if err := a.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("archive %s: %w", rel, err)
	}
	h := sha256.New()
	src := io.TeeReader(io.LimitReader(ctxReader{ctx, r}, size), h)
	var n int64
	for {
		k, err := src.Read(a.buf)
		if k > 0 {
			if _, werr := a.tw.Write(a.buf[:k]); werr != nil {
				return fmt.Errorf("archive %s: %w", rel, werr)
			}
			n += int64(k)
			a.done += int64(k)
			if a.progress != nil {
				a.progress(a.done)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			if ce := ctx.Err(); ce != nil {
				return ce
			}
			return fmt.Errorf("archive %s: read: %w", rel, err)
		}
	}
	if n != size {
		return fmt.Errorf("archive %s: file changed while being read (%d of %d bytes)", rel, n, size)
	}
	a.files = append(a.files, FileEntry{Path: rel, Size: size, SHA256: hex.EncodeToString(h.Sum(nil)), Mode: mode.Perm()})
	return nil
}

// close finishes tar, gzip and the OpenPGP packet (its MDC).
func (a *archiveWriter) close() error {
	if err := a.tw.Close(); err != nil {
		return fmt.Errorf("finish tar: %w", err)
	}
	if err := a.gz.Close(); err != nil {
		return fmt.Errorf("finish gzip: %w", err)
	}
	if err := a.enc.Close(); err != nil {
		return fmt.Errorf("finish encryption: %w", err)
	}
	return nil
}

// Limits bound what an archive may unpack to.
type Limits struct {
	MaxFiles     int   // entries; 0: 1,000,000
	MaxFileSize  int64 // bytes per file; 0: 1 TiB
	MaxTotalSize int64 // bytes in all; 0: 4 TiB
}

func (l Limits) withDefaults() Limits {
	if l.MaxFiles <= 0 {
		l.MaxFiles = 1_000_000
	}
	if l.MaxFileSize <= 0 {
		l.MaxFileSize = 1 << 40
	}
	if l.MaxTotalSize <= 0 {
		l.MaxTotalSize = 4 << 40
	}
	return l
}

// entryVisitor is called for each regular file (body non-nil) and each
// directory (body nil) of an archive, with its cleaned slash name.
type entryVisitor func(name string, hdr *tar.Header, body io.Reader) error

// checkEntry is the strict tar guard: regular files and directories only,
// local names only.
func checkEntry(hdr *tar.Header) (string, error) {
	raw := hdr.Name
	bad := func(why string) (string, error) {
		return "", &Error{Err: fmt.Errorf("%w: %q: %s", ErrUnsafeArchive, raw, why),
			Advice: "this archive was not written by drbook or the plan's script; nothing was extracted into the system"}
	}
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeDir:
	case tar.TypeSymlink:
		return bad("symbolic link (to " + hdr.Linkname + ")")
	case tar.TypeLink:
		return bad("hard link (to " + hdr.Linkname + ")")
	case tar.TypeChar, tar.TypeBlock:
		return bad("device file")
	case tar.TypeFifo:
		return bad("named pipe")
	default:
		return bad(fmt.Sprintf("unsupported entry type %q", string(hdr.Typeflag)))
	}
	if raw == "" || strings.ContainsRune(raw, 0) || strings.Contains(raw, `\`) {
		return bad("bad name")
	}
	if strings.HasPrefix(raw, "/") {
		return bad("absolute path")
	}
	for _, part := range strings.Split(strings.TrimSuffix(raw, "/"), "/") {
		if part == ".." {
			return bad("path escapes with ..")
		}
	}
	name := path.Clean(raw)
	if name == "." {
		if hdr.Typeflag == tar.TypeDir {
			return "", nil
		}
		return bad("bad name")
	}
	if hdr.Size < 0 {
		return bad("negative size")
	}
	return name, nil
}

// walkArchive decrypts, decompresses and untars r, calling visit for each
// entry after the guard, then reads every layer to its end so the MDC and
// the gzip trailer are checked. Any entry the guard refuses stops the walk.
func walkArchive(ctx context.Context, r io.Reader, passphrase []byte, lim Limits, visit entryVisitor) error {
	lim = lim.withDefaults()
	plain, tail, err := decrypt(r, passphrase)
	if err != nil {
		return err
	}
	ar := newAsyncReader(plain, 1<<20, 4)
	defer ar.Close()
	gz, err := pgzip.NewReaderN(ar, 1<<20, 4)
	if err != nil {
		return corruptf("gzip header: %v", err)
	}
	defer gz.Close()
	gz.Multistream(false)
	tr := tar.NewReader(gz)
	seen := map[string]bool{}
	var files int
	var total int64
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return layerErr("tar", err)
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		name, err := checkEntry(hdr)
		if err != nil {
			return err
		}
		if name == "" {
			continue
		}
		if seen[name] {
			return &Error{Err: fmt.Errorf("%w: %q appears twice", ErrUnsafeArchive, name)}
		}
		seen[name] = true
		if files++; files > lim.MaxFiles {
			return &Error{Err: fmt.Errorf("%w: more than %d entries", ErrUnsafeArchive, lim.MaxFiles)}
		}
		if hdr.Typeflag == tar.TypeDir {
			if err := visit(name, hdr, nil); err != nil {
				return err
			}
			continue
		}
		if hdr.Size > lim.MaxFileSize {
			return &Error{Err: fmt.Errorf("%w: %q is %d bytes, over the %d limit", ErrUnsafeArchive, name, hdr.Size, lim.MaxFileSize)}
		}
		if total += hdr.Size; total > lim.MaxTotalSize {
			return &Error{Err: fmt.Errorf("%w: contents exceed %d bytes", ErrUnsafeArchive, lim.MaxTotalSize)}
		}
		body := &layerReader{r: tr, layer: "tar"}
		if err := visit(name, hdr, body); err != nil {
			return err
		}
		if _, err := io.Copy(io.Discard, body); err != nil {
			return err
		}
	}
	// Read every layer to its end: the rest of the tar (padding), the gzip
	// trailer (CRC and size), the OpenPGP MDC.
	if _, err := io.Copy(io.Discard, gz); err != nil {
		return layerErr("gzip", err)
	}
	if _, err := io.Copy(io.Discard, ar); err != nil {
		return layerErr("openpgp", err)
	}
	if n, _ := io.Copy(io.Discard, tail); n > 0 {
		return corruptf("%d unexpected bytes after the end of the encrypted data", n)
	}
	return nil
}

// layerReader classifies read errors inside an entry body.
type layerReader struct {
	r     io.Reader
	layer string
}

func (l *layerReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	if err != nil && err != io.EOF {
		err = layerErr(l.layer, err)
	}
	return n, err
}

func layerErr(layer string, err error) error {
	switch {
	case errors.Is(err, ErrCorrupt), errors.Is(err, ErrWrongPassphrase), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, io.ErrUnexpectedEOF):
		return corruptf("%s: truncated", layer)
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return err
	}
	return corruptf("%s: %v", layer, err)
}

func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
}
