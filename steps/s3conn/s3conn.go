// Package s3conn reaches an S3 (or S3-compatible) bucket the one way
// drbook does for its backups and for the replicated timeline: an s3://
// URL split into bucket and prefix, and a client from the standard
// credential chain with an optional endpoint, region and addressing style.
package s3conn

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// ParseURL splits s3://bucket/prefix; the prefix is "" or ends with "/".
func ParseURL(s string) (bucket, prefix string, err error) {
	rest, ok := strings.CutPrefix(s, "s3://")
	if !ok {
		return "", "", fmt.Errorf("%q: want s3://bucket/prefix", s)
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	if bucket == "" {
		return "", "", fmt.Errorf("%q: no bucket", s)
	}
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	return bucket, prefix, nil
}

// Options say how to reach the bucket.
type Options struct {
	Endpoint string // an S3-compatible endpoint; "" for AWS
	Region   string // "" for the SDK's default chain, else us-east-1
	// PathStyle uses bucket-in-path addressing; on by default with Endpoint.
	PathStyle  *bool
	HTTPClient *http.Client // nil for the SDK default
	// MaxAttempts caps the SDK's own retries; 0 keeps its default.
	MaxAttempts int
}

// NewClient returns an S3 client from the standard credential chain
// (environment, shared config, instance role).
func NewClient(ctx context.Context, o Options) (*s3.Client, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if o.Region != "" {
		opts = append(opts, awsconfig.WithRegion(o.Region))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3 config: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	pathStyle := o.Endpoint != ""
	if o.PathStyle != nil {
		pathStyle = *o.PathStyle
	}
	return s3.NewFromConfig(cfg, func(so *s3.Options) {
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
		}
		so.UsePathStyle = pathStyle
		so.DisableLogOutputChecksumValidationSkipped = true
		if o.HTTPClient != nil {
			// On the S3 client alone: the loaded configuration may carry a
			// CA bundle that only the SDK's own transport can take.
			so.HTTPClient = o.HTTPClient
		}
		if o.MaxAttempts > 0 {
			so.RetryMaxAttempts = o.MaxAttempts
		}
	}), nil
}
