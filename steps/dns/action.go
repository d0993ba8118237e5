package dns

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/steps"
)

// ActionName is the name runbooks bind the DNS switch to.
const ActionName = "dns-switch"

// Action is the dns-switch action: it points the configured record at the
// secondary site. In a drill it only ever talks to the endpoint the drill
// was given (the endpoint parameter, else the SDK's AWS_ENDPOINT_URL_ROUTE_53
// or AWS_ENDPOINT_URL); with none, it changes nothing and reports the step
// simulated, never done.
type Action struct {
	// Sleep and Poll pace the wait for INSYNC; zero values use a real
	// timer and 5 seconds. Tests set them.
	Sleep func(ctx context.Context, d time.Duration) error
	Poll  time.Duration
}

// Spec implements steps.Action.
func (Action) Spec() steps.Spec {
	return steps.Spec{
		Name:    ActionName,
		Summary: "Point the trading DNS record at the secondary site through Route 53: UPSERT, wait for INSYNC, read back.",
		Params: []steps.Param{
			{Name: "zone", Doc: "hosted zone name (quantai.example) or id (Z123...)", Required: true},
			{Name: "record", Doc: "record name, e.g. trading.quantai.example", Required: true},
			{Name: "value", Doc: "the secondary's address or name", Required: true},
			{Name: "type", Doc: "A, AAAA or CNAME", Default: "A"},
			{Name: "ttl", Doc: "seconds", Default: "60"},
			{Name: "endpoint", Doc: "Route 53 endpoint (a drill's moto_server); else AWS_ENDPOINT_URL; a drill with none is simulated"},
			{Name: "region", Doc: "AWS region; empty: the SDK's default chain, else us-east-1"},
		},
		Destructive: true,
		Drill:       runbook.DrillRun,
		Timeout:     5 * time.Minute,
	}
}

// Endpoint returns the Route 53 endpoint a switch talks to: the parameter,
// else AWS_ENDPOINT_URL_ROUTE_53, else AWS_ENDPOINT_URL, from the runbook
// variables first and then the process environment; "" means AWS itself.
func Endpoint(param string, vars map[string]string) string {
	if s := strings.TrimSpace(param); s != "" {
		return s
	}
	for _, k := range []string{"AWS_ENDPOINT_URL_ROUTE_53", "AWS_ENDPOINT_URL"} {
		if v := strings.TrimSpace(vars[k]); v != "" {
			return v
		}
		if v := strings.TrimSpace(os.Getenv(k)); v != "" {
			return v
		}
	}
	return ""
}

// Run implements steps.Action.
func (a Action) Run(ctx context.Context, req steps.Request, emit steps.Emit) (steps.Result, error) {
	if emit == nil {
		emit = func(steps.Event) {}
	}
	env := req.Env
	p := req.Params
	say := func(l string) { emit(steps.Event{Time: env.Clock(), Stream: steps.Info, Line: l}) }
	o := Options{Record: strings.TrimSpace(p["record"]), Value: strings.TrimSpace(p["value"]), Type: p["type"],
		Comment: "drbook failover", Sleep: a.Sleep, Poll: a.Poll, Now: env.Now}
	if env.IncidentID != "" {
		o.Comment = "drbook failover, incident " + env.IncidentID
	}
	zone := strings.TrimSpace(p["zone"])
	if isZoneID(zone) {
		o.ZoneID = zone
	} else {
		o.ZoneName = zone
	}
	if t := strings.TrimSpace(p["ttl"]); t != "" {
		n, err := strconv.ParseInt(t, 10, 64)
		if err != nil || n <= 0 {
			err = fmt.Errorf("dns switch: ttl %q is not a positive number of seconds", t)
			return steps.Result{Status: steps.StatusFailed, Summary: err.Error()}, err
		}
		o.TTL = n
	}
	what := fmt.Sprintf("%s → %s in zone %s", orUnset(o.Record), orUnset(o.Value), orUnset(zone))
	endpoint := Endpoint(p["endpoint"], env.Vars)
	if env.Drill && endpoint == "" {
		say("drill: no Route 53 endpoint given (endpoint:, AWS_ENDPOINT_URL): no live zone is touched")
		return steps.Result{Status: steps.StatusSimulated,
			Summary: "drill: DNS switch simulated, not run (no Route 53 endpoint given): would set " + what,
			Data:    map[string]string{"record": o.Record, "value": o.Value, "zone": zone}}, nil
	}
	var missing []string
	for _, k := range []string{"zone", "record", "value"} {
		if unset(p[k]) {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		err := fmt.Errorf("dns switch: no %s given (set failover.dns in the site configuration)", strings.Join(missing, ", "))
		return steps.Result{Status: steps.StatusFailed, Summary: err.Error()}, err
	}
	if req.DryRun {
		return steps.Result{Status: steps.StatusSimulated, Summary: "dry run: would set " + what}, nil
	}
	if !req.Confirmed {
		return steps.Result{Status: steps.StatusFailed, Summary: "dns switch: not confirmed; nothing changed"},
			fmt.Errorf("dns switch: %w", steps.ErrNotConfirmed)
	}
	if endpoint != "" {
		say("Route 53 endpoint: " + endpoint)
	}
	c, err := NewClient(ctx, endpoint, strings.TrimSpace(p["region"]))
	if err != nil {
		return steps.Result{Status: steps.StatusFailed, Summary: err.Error()}, err
	}
	res, err := Switch(ctx, c, o, say)
	if err != nil {
		return steps.Result{Status: steps.StatusFailed, Summary: oneLine(err.Error()), Data: res}, err
	}
	return steps.Result{Status: steps.StatusOK, Data: res,
		Summary: fmt.Sprintf("DNS switched and verified: %s %s reads %s (was %s; change %s INSYNC in %s)",
			res.Record, res.Type, res.New, orNone(res.Old), res.ChangeID, res.Took.Round(time.Millisecond))}, nil
}

// isZoneID tells a hosted zone id (Z0123ABC, /hostedzone/Z0123ABC) from a
// zone name, which has a dot.
func isZoneID(s string) bool {
	s = strings.TrimPrefix(s, "/hostedzone/")
	return s != "" && !strings.Contains(s, ".")
}

func oneLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// unset reports whether a parameter is empty or a runbook variable left
// unexpanded.
func unset(s string) bool {
	s = strings.TrimSpace(s)
	return s == "" || strings.HasPrefix(s, "${")
}

func orUnset(s string) string {
	if unset(s) {
		return "(not set)"
	}
	return s
}
