package dns_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/drbook/drbook/steps/dns"
	"github.com/drbook/drbook/steps/mototest"
)

// zoneWithRecord makes a hosted zone on moto's Route 53 with
// trading.quantai.example A 10.0.1.10 (the primary), as a drill does.
func zoneWithRecord(t *testing.T) (*route53.Client, string) {
	t.Helper()
	srv := mototest.Start(t)
	ctx := context.Background()
	c, err := dns.NewClient(ctx, srv.Endpoint, "")
	if err != nil {
		t.Fatal(err)
	}
	z, err := c.CreateHostedZone(ctx, &route53.CreateHostedZoneInput{Name: aws.String("quantai.example."), CallerReference: aws.String(t.Name())})
	if err != nil {
		t.Fatal(err)
	}
	id := strings.TrimPrefix(aws.ToString(z.HostedZone.Id), "/hostedzone/")
	_, err = c.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{HostedZoneId: aws.String(id),
		ChangeBatch: &types.ChangeBatch{Changes: []types.Change{{Action: types.ChangeActionCreate, ResourceRecordSet: &types.ResourceRecordSet{
			Name: aws.String("trading.quantai.example."), Type: types.RRTypeA, TTL: aws.Int64(300),
			ResourceRecords: []types.ResourceRecord{{Value: aws.String("10.0.1.10")}}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	return c, id
}

// fakeTime is a manual clock whose Sleep advances it.
type fakeTime struct{ now time.Time }

func (f *fakeTime) Now() time.Time { return f.now }
func (f *fakeTime) Sleep(_ context.Context, d time.Duration) error {
	f.now = f.now.Add(d)
	return nil
}

func TestSwitchMovesTheRecordAndReadsItBack(t *testing.T) {
	c, zone := zoneWithRecord(t)
	ft := &fakeTime{now: time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)}
	var lines []string
	res, err := dns.Switch(context.Background(), c, dns.Options{ZoneName: "quantai.example", Record: "Trading.quantai.example",
		Value: "10.0.2.20", TTL: 30, Now: ft.Now, Sleep: ft.Sleep}, func(l string) { lines = append(lines, l) })
	if err != nil {
		t.Fatalf("switch: %v\n%s", err, strings.Join(lines, "\n"))
	}
	if !res.Verified || res.Zone != zone || res.Status != "INSYNC" || len(res.Old) != 1 || res.Old[0] != "10.0.1.10" || res.New != "10.0.2.20" {
		t.Fatalf("result = %+v", res)
	}
	// Read it back independently of Switch.
	out, err := c.ListResourceRecordSets(context.Background(), &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String(zone)})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, rs := range out.ResourceRecordSets {
		if aws.ToString(rs.Name) == "trading.quantai.example." && rs.Type == types.RRTypeA {
			found = len(rs.ResourceRecords) == 1 && aws.ToString(rs.ResourceRecords[0].Value) == "10.0.2.20" && aws.ToInt64(rs.TTL) == 30
		}
	}
	if !found {
		t.Fatalf("the zone does not hold the new record: %+v", out.ResourceRecordSets)
	}
	if !strings.Contains(strings.Join(lines, "\n"), "now 10.0.1.10; setting 10.0.2.20") {
		t.Errorf("progress lines:\n%s", strings.Join(lines, "\n"))
	}
}

// pendingFor reports a change PENDING for the first n GetChange calls, as
// Route 53 does while it propagates; moto answers INSYNC at once.
type pendingFor struct {
	dns.API
	n, calls int
}

func (p *pendingFor) GetChange(ctx context.Context, in *route53.GetChangeInput, o ...func(*route53.Options)) (*route53.GetChangeOutput, error) {
	out, err := p.API.GetChange(ctx, in, o...)
	p.calls++
	if err == nil && p.calls <= p.n {
		out.ChangeInfo.Status = types.ChangeStatusPending
	}
	return out, err
}

func (p *pendingFor) ChangeResourceRecordSets(ctx context.Context, in *route53.ChangeResourceRecordSetsInput, o ...func(*route53.Options)) (*route53.ChangeResourceRecordSetsOutput, error) {
	out, err := p.API.ChangeResourceRecordSets(ctx, in, o...)
	if err == nil {
		out.ChangeInfo.Status = types.ChangeStatusPending
	}
	return out, err
}

func TestSwitchWaitsForInsyncAndGivesUp(t *testing.T) {
	c, zone := zoneWithRecord(t)
	ft := &fakeTime{now: time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)}
	api := &pendingFor{API: c, n: 3}
	res, err := dns.Switch(context.Background(), api, dns.Options{ZoneID: "/hostedzone/" + zone, Record: "trading.quantai.example",
		Value: "10.0.2.20", Poll: 10 * time.Second, Now: ft.Now, Sleep: ft.Sleep}, nil)
	if err != nil || !res.Verified || res.Polls != 4 || res.Took != 40*time.Second {
		t.Fatalf("after 3 pending polls: %+v, %v", res, err)
	}
	api = &pendingFor{API: c, n: 1000}
	res, err = dns.Switch(context.Background(), api, dns.Options{ZoneID: zone, Record: "trading.quantai.example",
		Value: "10.0.3.30", Poll: 10 * time.Second, Timeout: time.Minute, Now: ft.Now, Sleep: ft.Sleep}, nil)
	if !errors.Is(err, dns.ErrNotInSync) || res.Verified {
		t.Fatalf("never in sync: %+v, %v", res, err)
	}
}

func TestSwitchRefusesBadInput(t *testing.T) {
	c, _ := zoneWithRecord(t)
	ctx := context.Background()
	if _, err := dns.Switch(ctx, c, dns.Options{ZoneName: "other.example", Record: "trading.other.example", Value: "10.0.2.20"}, nil); !errors.Is(err, dns.ErrNoZone) {
		t.Errorf("unknown zone: %v", err)
	}
	for _, o := range []dns.Options{
		{ZoneName: "quantai.example", Value: "10.0.2.20"},
		{ZoneName: "quantai.example", Record: "trading.quantai.example"},
		{ZoneName: "quantai.example", Record: "trading.quantai.example", Value: "x", Type: "MX"},
	} {
		if _, err := dns.Switch(ctx, c, o, nil); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}
