package incident

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/drbook/drbook/steps/s3conn"
)

// ReplicaConfig names where timelines are replicated: an S3 bucket and
// key prefix, and for S3-compatible stores an endpoint.
type ReplicaConfig struct {
	URL      string // s3://bucket/prefix
	Endpoint string // an S3-compatible endpoint; "" for AWS
	Region   string // "" for the SDK's default chain, else us-east-1
	// PathStyle uses bucket-in-path addressing; on by default with Endpoint.
	PathStyle  *bool
	HTTPClient *http.Client // nil for the SDK default
}

// ReplicaFromEnv returns the replica named by flag (--state-s3), else by
// $DRBOOK_STATE_S3, with the endpoint from $DRBOOK_STATE_S3_ENDPOINT or
// $AWS_ENDPOINT_URL and the region from $DRBOOK_STATE_S3_REGION; nil when
// neither names one.
func ReplicaFromEnv(flag string, getenv func(string) string) *ReplicaConfig {
	u := flag
	if u == "" {
		u = getenv("DRBOOK_STATE_S3")
	}
	if u == "" {
		return nil
	}
	ep := getenv("DRBOOK_STATE_S3_ENDPOINT")
	if ep == "" {
		ep = getenv("AWS_ENDPOINT_URL")
	}
	return &ReplicaConfig{URL: u, Endpoint: ep, Region: getenv("DRBOOK_STATE_S3_REGION")}
}

// Replica is the S3 copy of the timelines: one object per event at
// <prefix>/incidents/<id>/events/<seq, 12 digits>.json, each written only
// if absent (If-None-Match: *), so S3 decides which site's event holds
// each position.
type Replica struct {
	client *s3.Client
	bucket string
	prefix string // "" or ends with "/"
}

// NewReplica connects to the replica with the standard credential chain.
func NewReplica(ctx context.Context, c ReplicaConfig) (*Replica, error) {
	bucket, prefix, err := s3conn.ParseURL(c.URL)
	if err != nil {
		return nil, fmt.Errorf("state replica %q: want s3://bucket/prefix", c.URL)
	}
	// The Replicator retries with its own backoff.
	client, err := s3conn.NewClient(ctx, s3conn.Options{Endpoint: c.Endpoint, Region: c.Region, PathStyle: c.PathStyle,
		HTTPClient: c.HTTPClient, MaxAttempts: 2})
	if err != nil {
		return nil, fmt.Errorf("state replica: %w", err)
	}
	return &Replica{client: client, bucket: bucket, prefix: prefix}, nil
}

// URL returns the replica's s3:// URL.
func (r *Replica) URL() string { return "s3://" + r.bucket + "/" + r.prefix }

func (r *Replica) eventsPrefix(id string) string { return r.prefix + "incidents/" + id + "/events/" }

func (r *Replica) key(id string, seq int64) string {
	return fmt.Sprintf("%s%012d.json", r.eventsPrefix(id), seq)
}

// ErrRefused is a conditional write S3 refused (412 Precondition Failed):
// another site already wrote that position.
var ErrRefused = errors.New("another site already wrote this position (412 Precondition Failed)")

// ErrReplicaMismatch marks a replicated timeline that does not check out:
// an object whose hash does not match its content, or that does not link
// to the event before it.
var ErrReplicaMismatch = errors.New("replicated timeline does not verify")

// replicaEvent is the object stored for one event: the stored columns
// exactly (data as the JSON it was hashed as), so any reader can
// recompute the chain.
type replicaEvent struct {
	Incident string          `json:"incident"`
	Seq      int64           `json:"seq"`
	At       string          `json:"at"`
	Kind     string          `json:"kind"`
	Phase    string          `json:"phase,omitempty"`
	Step     string          `json:"step,omitempty"`
	Actor    string          `json:"actor,omitempty"`
	Data     json.RawMessage `json:"data"`
	PrevHash string          `json:"prev_hash"`
	Hash     string          `json:"hash"`
}

func encodeEvent(r rawEvent) ([]byte, error) {
	b, err := json.Marshal(replicaEvent{Incident: r.incident, Seq: r.seq, At: r.at, Kind: r.kind, Phase: r.phase,
		Step: r.step, Actor: r.actor, Data: json.RawMessage(r.data), PrevHash: r.prevHash, Hash: r.hash})
	if err != nil {
		return nil, err
	}
	// What a reader decodes must hash the same, or the object is useless.
	if back, err := decodeEvent(b, r.incident, r.seq); err != nil || back.hash != r.hash || back.data != r.data {
		return nil, fmt.Errorf("event %d of %s does not survive encoding: %v", r.seq, r.incident, err)
	}
	return b, nil
}

// decodeEvent parses and checks one object: it must be event seq of id,
// and its hash must match its content. Its link is the caller's to check.
func decodeEvent(b []byte, id string, seq int64) (rawEvent, error) {
	var o replicaEvent
	if err := json.Unmarshal(b, &o); err != nil {
		return rawEvent{}, fmt.Errorf("%w: event %d of %s is not an event object: %v", ErrReplicaMismatch, seq, id, err)
	}
	r := rawEvent{incident: o.Incident, seq: o.Seq, at: o.At, kind: o.Kind, phase: o.Phase, step: o.Step,
		actor: o.Actor, data: string(o.Data), prevHash: o.PrevHash, hash: o.Hash}
	switch {
	case o.Incident != id || o.Seq != seq:
		return r, fmt.Errorf("%w: object for event %d of %s holds event %d of %s", ErrReplicaMismatch, seq, id, o.Seq, o.Incident)
	case r.computeHash() != o.Hash:
		return r, fmt.Errorf("%w: event %d of %s was edited: its content does not match its hash", ErrReplicaMismatch, seq, id)
	}
	if _, err := r.event(); err != nil {
		return r, fmt.Errorf("%w: event %d of %s: %v", ErrReplicaMismatch, seq, id, err)
	}
	return r, nil
}

func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// put writes one event if its position is free.
func (r *Replica) put(ctx context.Context, e rawEvent) error {
	b, err := encodeEvent(e)
	if err != nil {
		return err
	}
	key := r.key(e.incident, e.seq)
	_, err = r.client.PutObject(ctx, &s3.PutObjectInput{Bucket: &r.bucket, Key: &key, Body: bytes.NewReader(b),
		ContentLength: aws.Int64(int64(len(b))), ContentType: aws.String("application/json"), IfNoneMatch: aws.String("*")})
	switch {
	case err == nil:
		return nil
	case httpStatus(err) == http.StatusPreconditionFailed:
		return ErrRefused
	case httpStatus(err) == http.StatusConflict: // a concurrent conditional write to the same key
		return ErrRefused
	}
	return fmt.Errorf("put %s: %w", r.URL()+strings.TrimPrefix(key, r.prefix), err)
}

// get reads and checks one event; ok is false when it is not there.
func (r *Replica) get(ctx context.Context, id string, seq int64) (rawEvent, bool, error) {
	key := r.key(id, seq)
	out, err := r.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &r.bucket, Key: &key})
	if err != nil {
		var nk *types.NoSuchKey
		if errors.As(err, &nk) || httpStatus(err) == http.StatusNotFound {
			return rawEvent{}, false, nil
		}
		return rawEvent{}, false, fmt.Errorf("get %s: %w", key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(io.LimitReader(out.Body, 64<<20))
	if err != nil {
		return rawEvent{}, false, fmt.Errorf("get %s: %w", key, err)
	}
	e, err := decodeEvent(b, id, seq)
	return e, true, err
}

// seqsAfter lists the sequence numbers S3 holds for id after seq, in
// order.
func (r *Replica) seqsAfter(ctx context.Context, id string, after int64) ([]int64, error) {
	p := r.eventsPrefix(id)
	in := &s3.ListObjectsV2Input{Bucket: &r.bucket, Prefix: aws.String(p)}
	if after > 0 {
		in.StartAfter = aws.String(r.key(id, after))
	}
	var seqs []int64
	pg := s3.NewListObjectsV2Paginator(r.client, in)
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", p, err)
		}
		for _, o := range page.Contents {
			name := strings.TrimSuffix(strings.TrimPrefix(aws.ToString(o.Key), p), ".json")
			n, err := strconv.ParseInt(name, 10, 64)
			if err != nil || n <= after || len(name) != 12 {
				continue // not an event object
			}
			seqs = append(seqs, n)
		}
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	return seqs, nil
}

// fetchAfter reads the events S3 holds for id after seq and checks that
// they are contiguous, that each hash matches its content, and that they
// chain on from prev (the hash of event seq; "" before the first).
func (r *Replica) fetchAfter(ctx context.Context, id string, after int64, prev string) ([]rawEvent, error) {
	seqs, err := r.seqsAfter(ctx, id, after)
	if err != nil {
		return nil, err
	}
	var out []rawEvent
	for i, n := range seqs {
		if n != after+int64(i)+1 {
			return out, fmt.Errorf("%w: %s holds event %d but not event %d", ErrReplicaMismatch, id, n, after+int64(i)+1)
		}
		e, ok, err := r.get(ctx, id, n)
		if err != nil {
			return out, err
		}
		if !ok {
			return out, fmt.Errorf("%w: event %d of %s was listed but cannot be read", ErrReplicaMismatch, n, id)
		}
		if e.prevHash != prev {
			return out, fmt.Errorf("%w: event %d of %s does not link to event %d", ErrReplicaMismatch, n, id, n-1)
		}
		if n == 1 && e.kind != string(KindDeclared) {
			return out, fmt.Errorf("%w: event 1 of %s is not its declaration", ErrReplicaMismatch, id)
		}
		prev = e.hash
		out = append(out, e)
	}
	return out, nil
}

// Incidents lists the incident ids the replica holds.
func (r *Replica) Incidents(ctx context.Context) ([]string, error) {
	p := r.prefix + "incidents/"
	pg := s3.NewListObjectsV2Paginator(r.client, &s3.ListObjectsV2Input{Bucket: &r.bucket, Prefix: aws.String(p), Delimiter: aws.String("/")})
	var ids []string
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", r.URL()+"incidents/", err)
		}
		for _, cp := range page.CommonPrefixes {
			if id := strings.TrimSuffix(strings.TrimPrefix(aws.ToString(cp.Prefix), p), "/"); id != "" {
				ids = append(ids, id)
			}
		}
	}
	sort.Strings(ids)
	return ids, nil
}
