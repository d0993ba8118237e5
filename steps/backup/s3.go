package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/drbook/drbook/steps/s3conn"
)

// S3Config names an S3 destination.
type S3Config struct {
	URL      string // s3://bucket/prefix
	Endpoint string // an S3-compatible endpoint (https://minio:9000); "" for AWS
	Region   string // "" for the SDK's default chain, else us-east-1
	// PathStyle uses bucket-in-path addressing; on by default with Endpoint.
	PathStyle  *bool
	PartSize   int64        // multipart part size; 0 means 16 MiB (min 5 MiB)
	HTTPClient *http.Client // nil for the SDK default
}

// S3Store is a bucket and key prefix holding backups.
type S3Store struct {
	client   *s3.Client
	bucket   string
	prefix   string // "" or ends with "/"
	partSize int64
}

// ParseS3URL splits s3://bucket/prefix (see s3conn.ParseURL).
func ParseS3URL(s string) (bucket, prefix string, err error) { return s3conn.ParseURL(s) }

// NewS3 connects to the S3 destination with the standard credential chain
// (environment, shared config, instance role).
func NewS3(ctx context.Context, c S3Config) (*S3Store, error) {
	bucket, prefix, err := ParseS3URL(c.URL)
	if err != nil {
		return nil, err
	}
	client, err := s3conn.NewClient(ctx, s3conn.Options{Endpoint: c.Endpoint, Region: c.Region, PathStyle: c.PathStyle,
		HTTPClient: c.HTTPClient})
	if err != nil {
		return nil, err
	}
	ps := c.PartSize
	if ps == 0 {
		ps = 16 << 20
	}
	if ps < 5<<20 {
		ps = 5 << 20
	}
	return &S3Store{client: client, bucket: bucket, prefix: prefix, partSize: ps}, nil
}

// URL returns the s3:// URL of a key.
func (s *S3Store) URL(name string) string { return "s3://" + s.bucket + "/" + s.prefix + name }

// Put uploads a local archive and then its manifest. The archive goes up in
// parts with a SHA-256 checksum each (S3 rejects a damaged part), the
// stored size is checked against the manifest, and only then is the
// manifest uploaded. A failed multipart upload is aborted, so nothing
// half-written is left under the archive's name.
func (s *S3Store) Put(ctx context.Context, archive string, m *Manifest, progress func(int64)) (string, error) {
	f, err := os.Open(archive)
	if err != nil {
		return "", err
	}
	defer f.Close()
	key := s.prefix + m.Archive
	meta := map[string]string{"sha256": m.ArchiveSHA256, "drbook-tier": fmt.Sprint(m.Tier)}
	if m.ArchiveSize <= s.partSize {
		sum, _ := hex.DecodeString(m.ArchiveSHA256)
		_, err = s.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket: &s.bucket, Key: &key, Body: io.NewSectionReader(f, 0, m.ArchiveSize),
			ContentLength: aws.Int64(m.ArchiveSize), Metadata: meta,
			ChecksumSHA256: aws.String(base64.StdEncoding.EncodeToString(sum)),
		})
		if err != nil {
			return "", fmt.Errorf("s3 upload %s: %w", s.URL(m.Archive), err)
		}
		if progress != nil {
			progress(m.ArchiveSize)
		}
	} else if err := s.multipart(ctx, f, key, m, meta, progress); err != nil {
		return "", err
	}
	head, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: &key})
	if err != nil {
		return "", fmt.Errorf("s3 check %s: %w", s.URL(m.Archive), err)
	}
	if got := aws.ToInt64(head.ContentLength); got != m.ArchiveSize {
		s.client.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: &s.bucket, Key: &key})
		return "", fmt.Errorf("s3 check %s: %w: stored %d bytes, archive is %d", s.URL(m.Archive), ErrCorrupt, got, m.ArchiveSize)
	}
	if err := s.putSmall(ctx, key+ManifestSuffix, m.marshal()); err != nil {
		return "", fmt.Errorf("s3 upload manifest: %w", err)
	}
	return s.URL(m.Archive), nil
}

func (s *S3Store) multipart(ctx context.Context, f *os.File, key string, m *Manifest, meta map[string]string, progress func(int64)) (err error) {
	up, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: &s.bucket, Key: &key, Metadata: meta, ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
	})
	if err != nil {
		return fmt.Errorf("s3 upload %s: %w", s.URL(m.Archive), err)
	}
	defer func() {
		if err != nil {
			// Abort with a fresh context: ctx may be the reason we stopped.
			actx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			s.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{Bucket: &s.bucket, Key: &key, UploadId: up.UploadId})
		}
	}()
	var parts []types.CompletedPart
	for off, num := int64(0), int32(1); off < m.ArchiveSize; off, num = off+s.partSize, num+1 {
		n := min(s.partSize, m.ArchiveSize-off)
		h := sha256.New()
		if _, err := io.Copy(h, io.NewSectionReader(f, off, n)); err != nil {
			return fmt.Errorf("s3 upload %s: read part %d: %w", s.URL(m.Archive), num, err)
		}
		sum := base64.StdEncoding.EncodeToString(h.Sum(nil))
		out, err := s.client.UploadPart(ctx, &s3.UploadPartInput{
			Bucket: &s.bucket, Key: &key, UploadId: up.UploadId, PartNumber: aws.Int32(num),
			Body: io.NewSectionReader(f, off, n), ContentLength: aws.Int64(n),
			ChecksumAlgorithm: types.ChecksumAlgorithmSha256, ChecksumSHA256: aws.String(sum),
		})
		if err != nil {
			return fmt.Errorf("s3 upload %s: part %d: %w", s.URL(m.Archive), num, err)
		}
		parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(num), ChecksumSHA256: aws.String(sum)})
		if progress != nil {
			progress(off + n)
		}
	}
	_, err = s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &s.bucket, Key: &key, UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		return fmt.Errorf("s3 upload %s: complete: %w", s.URL(m.Archive), err)
	}
	return nil
}

func (s *S3Store) putSmall(ctx context.Context, key string, data []byte) error {
	sum := sha256.Sum256(data)
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &s.bucket, Key: &key, Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data))),
		ChecksumSHA256: aws.String(base64.StdEncoding.EncodeToString(sum[:])),
	})
	return err
}

// s3Object is one archive found on S3.
type s3Object struct {
	name     string
	size     int64
	modified time.Time
	manifest bool
}

// list returns the archives under the prefix and whether each has a manifest.
func (s *S3Store) list(ctx context.Context) ([]s3Object, error) {
	objs := map[string]*s3Object{}
	manifests := map[string]bool{}
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: aws.String(s.prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("s3 list %s: %w", "s3://"+s.bucket+"/"+s.prefix, err)
		}
		for _, o := range page.Contents {
			name := strings.TrimPrefix(aws.ToString(o.Key), s.prefix)
			if strings.Contains(name, "/") {
				continue
			}
			switch {
			case strings.HasSuffix(name, ".tar.gz.gpg"+ManifestSuffix):
				manifests[strings.TrimSuffix(name, ManifestSuffix)] = true
			case strings.HasSuffix(name, ".tar.gz.gpg"):
				objs[name] = &s3Object{name: name, size: aws.ToInt64(o.Size), modified: aws.ToTime(o.LastModified)}
			}
		}
	}
	out := make([]s3Object, 0, len(objs))
	for name, o := range objs {
		o.manifest = manifests[name]
		out = append(out, *o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

// manifest downloads and parses an archive's manifest.
func (s *S3Store) manifest(ctx context.Context, name string) (*Manifest, error) {
	key := s.prefix + name + ManifestSuffix
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &key})
	if err != nil {
		return nil, storeErr(fmt.Errorf("s3 get %s: %w", s.URL(name+ManifestSuffix), err))
	}
	defer out.Body.Close()
	b, err := io.ReadAll(io.LimitReader(out.Body, 64<<20))
	if err != nil {
		return nil, storeErr(fmt.Errorf("s3 get %s: %w", s.URL(name+ManifestSuffix), err))
	}
	return parseManifest(b, s.URL(name+ManifestSuffix))
}

// download streams an archive into w and returns its size.
func (s *S3Store) download(ctx context.Context, name string, w io.Writer, progress func(int64)) (int64, error) {
	key := s.prefix + name
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &key})
	if err != nil {
		return 0, storeErr(fmt.Errorf("s3 get %s: %w", s.URL(name), err))
	}
	defer out.Body.Close()
	var r io.Reader = out.Body
	if progress != nil {
		pr := &progressReader{r: out.Body}
		pr.fn = func() { progress(pr.n) }
		r = pr
	}
	sr := &sideReader{r: ctxReader{ctx, r}}
	n, err := io.CopyBuffer(w, sr, make([]byte, 1<<20))
	if err != nil {
		err = fmt.Errorf("s3 get %s: %w", s.URL(name), err)
		if sr.err != nil {
			// The store failed, not the local disk.
			err = storeErr(err)
		}
		return n, err
	}
	return n, nil
}

// remove deletes an archive and its manifest (manifest first, so a
// half-deleted backup is never listed as verified).
func (s *S3Store) remove(ctx context.Context, name string) error {
	for _, k := range []string{name + ManifestSuffix, name} {
		key := s.prefix + k
		if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: &key}); err != nil {
			return fmt.Errorf("s3 delete %s: %w", s.URL(k), err)
		}
	}
	return nil
}

// splitS3Object parses s3://bucket/prefix/name into a store URL and a name.
func splitS3Object(u string) (storeURL, name string, err error) {
	bucket, key, err := ParseS3URL(u)
	if err != nil {
		return "", "", err
	}
	key = strings.TrimSuffix(key, "/")
	if !strings.HasSuffix(key, ".tar.gz.gpg") {
		return "", "", errors.New(u + ": not a .tar.gz.gpg object")
	}
	dir, name := path.Split(key)
	return "s3://" + bucket + "/" + dir, name, nil
}

// sideReader remembers a read error other than io.EOF, so a copy can tell
// the source's failure from the destination's.
type sideReader struct {
	r   io.Reader
	err error
}

func (s *sideReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}
