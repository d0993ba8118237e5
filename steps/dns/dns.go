// Package dns switches the trading system's DNS record from the primary
// site to the secondary through Route 53 (plan 2.3, "Primary → Secondary
// system failover": update DNS records). A switch is an UPSERT of one
// record, then a wait until Route 53 reports the change INSYNC, then a
// read-back of the record: the switch is done only when the record holds
// the new value.
package dns

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"
)

// API is the part of the Route 53 client a switch uses; *route53.Client
// implements it.
type API interface {
	ChangeResourceRecordSets(context.Context, *route53.ChangeResourceRecordSetsInput, ...func(*route53.Options)) (*route53.ChangeResourceRecordSetsOutput, error)
	GetChange(context.Context, *route53.GetChangeInput, ...func(*route53.Options)) (*route53.GetChangeOutput, error)
	ListResourceRecordSets(context.Context, *route53.ListResourceRecordSetsInput, ...func(*route53.Options)) (*route53.ListResourceRecordSetsOutput, error)
	ListHostedZonesByName(context.Context, *route53.ListHostedZonesByNameInput, ...func(*route53.Options)) (*route53.ListHostedZonesByNameOutput, error)
}

var _ API = (*route53.Client)(nil)

// Options says which record to point where.
type Options struct {
	ZoneID   string // hosted zone id ("Z123..." or "/hostedzone/Z123...")
	ZoneName string // or its name ("quantai.example."), looked up when ZoneID is empty
	Record   string // the record's name, e.g. "trading.quantai.example"
	Type     string // A, AAAA or CNAME; A when empty
	Value    string // the secondary's address or name
	TTL      int64  // seconds; 60 when 0
	Comment  string // recorded with the change in Route 53

	// Poll is the pause between GetChange calls (5 s when 0); Timeout
	// bounds the wait for INSYNC (4 min when 0: the plan's automatic
	// failover has 5).
	Poll    time.Duration
	Timeout time.Duration
	// Sleep waits between polls; nil waits on a real timer. Tests inject one.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock for durations; nil means time.Now.
	Now func() time.Time
}

// Result is what a switch did.
type Result struct {
	Zone     string        `json:"zone"`
	Record   string        `json:"record"`
	Type     string        `json:"type"`
	Old      []string      `json:"old,omitempty"` // values before the switch; empty if the record did not exist
	New      string        `json:"new"`
	ChangeID string        `json:"change_id"`
	Status   string        `json:"status"` // INSYNC when done
	Polls    int           `json:"polls"`
	Took     time.Duration `json:"took"`
	// Verified is true when the record read back after INSYNC holds New.
	Verified bool `json:"verified"`
}

// Errors a caller tests for.
var (
	ErrNoZone      = errors.New("hosted zone not found")
	ErrNotInSync   = errors.New("route 53 change did not reach INSYNC in time")
	ErrNotVerified = errors.New("record read back does not hold the new value")
)

// NewClient returns a Route 53 client from the standard AWS chain. The
// endpoint is endpoint if given, else the SDK's own AWS_ENDPOINT_URL
// (AWS_ENDPOINT_URL_ROUTE_53) if set, else AWS.
func NewClient(ctx context.Context, endpoint, region string) (*route53.Client, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if region != "" {
		opts = append(opts, awsconfig.WithRegion(region))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("route 53 config: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	return route53.NewFromConfig(cfg, func(o *route53.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	}), nil
}

// Progress receives one line per stage of the switch.
type Progress func(line string)

// Switch points the record at Value: UPSERT, wait for INSYNC, read back.
func Switch(ctx context.Context, api API, o Options, say Progress) (Result, error) {
	if say == nil {
		say = func(string) {}
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	start := now()
	typ := strings.ToUpper(strings.TrimSpace(o.Type))
	if typ == "" {
		typ = "A"
	}
	switch {
	case o.Record == "":
		return Result{}, errors.New("dns switch: no record name")
	case o.Value == "":
		return Result{}, errors.New("dns switch: no value to point the record at")
	case typ != "A" && typ != "AAAA" && typ != "CNAME":
		return Result{}, fmt.Errorf("dns switch: record type %q: want A, AAAA or CNAME", o.Type)
	}
	ttl := o.TTL
	if ttl <= 0 {
		ttl = 60
	}
	name := fqdn(o.Record)
	res := Result{Record: name, Type: typ, New: o.Value}

	zone, err := zoneID(ctx, api, o)
	if err != nil {
		return res, err
	}
	res.Zone = zone
	old, err := current(ctx, api, zone, name, typ)
	if err != nil {
		return res, fmt.Errorf("dns switch: read %s %s: %w", name, typ, err)
	}
	res.Old = old
	say(fmt.Sprintf("%s %s now %s; setting %s (TTL %ds) in zone %s", name, typ, orNone(old), o.Value, ttl, zone))

	comment := o.Comment
	if comment == "" {
		comment = "drbook failover"
	}
	out, err := api.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{
		HostedZoneId: aws.String(zone),
		ChangeBatch: &types.ChangeBatch{Comment: aws.String(comment), Changes: []types.Change{{
			Action: types.ChangeActionUpsert,
			ResourceRecordSet: &types.ResourceRecordSet{Name: aws.String(name), Type: types.RRType(typ), TTL: aws.Int64(ttl),
				ResourceRecords: []types.ResourceRecord{{Value: aws.String(o.Value)}}},
		}}},
	})
	if err != nil {
		return res, fmt.Errorf("dns switch: upsert %s: %w", name, err)
	}
	res.ChangeID = aws.ToString(out.ChangeInfo.Id)
	res.Status = string(out.ChangeInfo.Status)
	say(fmt.Sprintf("change %s submitted: %s", res.ChangeID, res.Status))

	poll, timeout := o.Poll, o.Timeout
	if poll <= 0 {
		poll = 5 * time.Second
	}
	if timeout <= 0 {
		timeout = 4 * time.Minute
	}
	sleep := o.Sleep
	if sleep == nil {
		sleep = func(ctx context.Context, d time.Duration) error {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-t.C:
				return nil
			}
		}
	}
	deadline := start.Add(timeout)
	for res.Status != string(types.ChangeStatusInsync) {
		if !now().Before(deadline) {
			res.Took = now().Sub(start)
			return res, fmt.Errorf("dns switch: change %s still %s after %s: %w", res.ChangeID, res.Status, timeout, ErrNotInSync)
		}
		if err := sleep(ctx, poll); err != nil {
			return res, err
		}
		gc, err := api.GetChange(ctx, &route53.GetChangeInput{Id: aws.String(res.ChangeID)})
		res.Polls++
		if err != nil {
			return res, fmt.Errorf("dns switch: get change %s: %w", res.ChangeID, err)
		}
		res.Status = string(gc.ChangeInfo.Status)
		say(fmt.Sprintf("change %s: %s", res.ChangeID, res.Status))
	}

	got, err := current(ctx, api, zone, name, typ)
	if err != nil {
		return res, fmt.Errorf("dns switch: read back %s: %w", name, err)
	}
	res.Took = now().Sub(start)
	if len(got) != 1 || strings.TrimSuffix(got[0], ".") != strings.TrimSuffix(o.Value, ".") {
		return res, fmt.Errorf("dns switch: %s %s reads %s, want %s: %w", name, typ, orNone(got), o.Value, ErrNotVerified)
	}
	res.Verified = true
	say(fmt.Sprintf("%s %s reads %s: switched in %s", name, typ, got[0], res.Took.Round(time.Millisecond)))
	return res, nil
}

func fqdn(s string) string {
	s = strings.TrimSpace(s)
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return strings.ToLower(s)
}

func orNone(v []string) string {
	if len(v) == 0 {
		return "(no record)"
	}
	return strings.Join(v, ", ")
}

func zoneID(ctx context.Context, api API, o Options) (string, error) {
	if o.ZoneID != "" {
		return strings.TrimPrefix(o.ZoneID, "/hostedzone/"), nil
	}
	if o.ZoneName == "" {
		return "", errors.New("dns switch: no hosted zone: give its id or name")
	}
	want := fqdn(o.ZoneName)
	out, err := api.ListHostedZonesByName(ctx, &route53.ListHostedZonesByNameInput{DNSName: aws.String(want)})
	if err != nil {
		return "", fmt.Errorf("dns switch: find zone %s: %w", want, err)
	}
	for _, z := range out.HostedZones {
		if strings.EqualFold(aws.ToString(z.Name), want) {
			return strings.TrimPrefix(aws.ToString(z.Id), "/hostedzone/"), nil
		}
	}
	return "", fmt.Errorf("dns switch: %s: %w", want, ErrNoZone)
}

// current returns the values of the record name/typ, or none.
func current(ctx context.Context, api API, zone, name, typ string) ([]string, error) {
	out, err := api.ListResourceRecordSets(ctx, &route53.ListResourceRecordSetsInput{
		HostedZoneId: aws.String(zone), StartRecordName: aws.String(name), StartRecordType: types.RRType(typ), MaxItems: aws.Int32(1)})
	if err != nil {
		return nil, err
	}
	var vals []string
	for _, rs := range out.ResourceRecordSets {
		if !strings.EqualFold(aws.ToString(rs.Name), name) || string(rs.Type) != typ {
			continue
		}
		for _, r := range rs.ResourceRecords {
			vals = append(vals, aws.ToString(r.Value))
		}
	}
	return vals, nil
}
