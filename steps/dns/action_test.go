package dns_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"

	"github.com/drbook/drbook/steps"
	"github.com/drbook/drbook/steps/dns"
)

func TestActionInADrillWithoutEndpointIsSimulated(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_ENDPOINT_URL_ROUTE_53", "")
	p := map[string]string{"zone": "quantai.example", "record": "trading.quantai.example", "value": "10.0.2.20"}
	res, err := dns.Action{}.Run(context.Background(), steps.Request{Env: steps.Env{Drill: true}, Params: p, Confirmed: true}, nil)
	if err != nil || res.Status != steps.StatusSimulated || !strings.Contains(res.Summary, "simulated, not run") ||
		!strings.Contains(res.Summary, "trading.quantai.example → 10.0.2.20") {
		t.Fatalf("drill without endpoint: %+v, %v", res, err)
	}
	// Live, the switch is destructive: nothing happens unconfirmed.
	res, err = dns.Action{}.Run(context.Background(), steps.Request{Params: p}, nil)
	if !errors.Is(err, steps.ErrNotConfirmed) || res.Status != steps.StatusFailed {
		t.Fatalf("live unconfirmed: %+v, %v", res, err)
	}
	// Missing parameters are named.
	res, err = dns.Action{}.Run(context.Background(), steps.Request{Params: map[string]string{"zone": "quantai.example", "record": "${DNS_RECORD}"}, Confirmed: true}, nil)
	if err == nil || !strings.Contains(res.Summary, "no record, value") {
		t.Fatalf("missing record and value: %+v, %v", res, err)
	}
}

func TestActionInADrillSwitchesAtTheGivenEndpoint(t *testing.T) {
	c, zone := zoneWithRecord(t)
	srvEndpoint := endpointOf(t, c)
	var lines []string
	emit := func(e steps.Event) { lines = append(lines, e.Line) }
	p := map[string]string{"zone": zone, "record": "trading.quantai.example", "value": "10.0.2.20", "ttl": "30", "endpoint": srvEndpoint}
	res, err := dns.Action{}.Run(context.Background(), steps.Request{Env: steps.Env{Drill: true, IncidentID: "DRILL-1"}, Params: p, Confirmed: true}, emit)
	if err != nil || res.Status != steps.StatusOK || !strings.Contains(res.Summary, "switched and verified") {
		t.Fatalf("drill at moto: %+v, %v\n%s", res, err, strings.Join(lines, "\n"))
	}
	out, err := c.ListResourceRecordSets(context.Background(), &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String(zone)})
	if err != nil {
		t.Fatal(err)
	}
	got := ""
	for _, rs := range out.ResourceRecordSets {
		if aws.ToString(rs.Name) == "trading.quantai.example." {
			got = aws.ToString(rs.ResourceRecords[0].Value)
		}
	}
	if got != "10.0.2.20" {
		t.Fatalf("record reads %q after the switch", got)
	}
	p["ttl"] = "soon"
	if res, err := (dns.Action{}).Run(context.Background(), steps.Request{Env: steps.Env{Drill: true}, Params: p, Confirmed: true}, nil); err == nil || res.Status != steps.StatusFailed {
		t.Fatalf("bad ttl: %+v, %v", res, err)
	}
}

// endpointOf returns the moto endpoint a client was made for.
func endpointOf(t *testing.T, c *route53.Client) string {
	t.Helper()
	e := aws.ToString(c.Options().BaseEndpoint)
	if e == "" {
		t.Fatal("client has no base endpoint")
	}
	return e
}
