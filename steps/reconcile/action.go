package reconcile

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/drbook/drbook/runbook/hint"
	"github.com/drbook/drbook/steps"
	"github.com/drbook/drbook/steps/system"
	"github.com/drbook/drbook/steps/table"
)

// Register adds the reconcile and adopt-positions actions to r.
func Register(r *steps.Registry) {
	r.Register(Action{})
	r.Register(AdoptAction{})
}

// Action is the reconcile action.
type Action struct{}

// Spec implements steps.Action.
func (Action) Spec() steps.Spec {
	return spec
}

// Run implements steps.Action: breaks are StatusFailed; a statement or
// database that cannot be read is an error.
func (Action) Run(ctx context.Context, req steps.Request, emit steps.Emit) (steps.Result, error) {
	if emit == nil {
		emit = func(steps.Event) {}
	}
	o, err := requestOptions(req)
	if err != nil {
		return steps.Result{Status: steps.StatusFailed, Summary: err.Error()}, err
	}
	rep, err := Run(ctx, o)
	if err != nil {
		return steps.Result{Status: steps.StatusFailed, Summary: hint.Message(err)}, err
	}
	for _, l := range Render(rep) {
		emit(steps.Event{Time: req.Env.Clock(), Stream: steps.Stdout, Line: l})
	}
	res := steps.Result{Status: steps.StatusOK, Summary: SummaryLine(rep), Data: rep}
	if !rep.OK() {
		res.Status = steps.StatusFailed
	}
	return res, nil
}

// SummaryLine is the one-line account of a reconciliation.
func SummaryLine(r Report) string {
	var brokers []string
	for _, s := range r.Statements {
		brokers = append(brokers, s.Broker)
	}
	src := "no broker statements"
	if len(brokers) > 0 {
		src = "statements: " + strings.Join(brokers, ", ")
	}
	s := fmt.Sprintf("%d positions compared (%s): ", r.Compared, src)
	if r.OK() {
		s += "no breaks"
	} else {
		s += fmt.Sprintf("%s worth %s at average price", strings.ToUpper(plural(len(r.Breaks), "break")), money(r.BreakValue))
	}
	if n := len(r.PendingTrades); n > 0 {
		s += "; " + plural(n, "pending trade")
	}
	if r.OpenOrders > 0 {
		s += "; " + plural(r.OpenOrders, "open or pending order")
	}
	return s
}

// Render lays a report out for a terminal: breaks, summary, pending trades.
func Render(r Report) []string {
	var out []string
	if len(r.Breaks) > 0 {
		rows := make([][]string, 0, len(r.Breaks))
		for _, b := range r.Breaks {
			bq := "-"
			if b.BrokerQty != nil {
				bq = qty(*b.BrokerQty)
			}
			db := qty(b.DBQty)
			if !b.InDB {
				db = "-"
			}
			rows = append(rows, []string{b.Symbol, b.Broker, db, bq, qty(b.ImpliedQty), signed(b.Difference), money(b.Value), b.Reason})
		}
		out = append(out, "Breaks (quantities: database, broker statement, filled trades):")
		out = append(out, table.Render([]string{"SYMBOL", "AT", "DB", "BROKER", "TRADES", "DIFF", "VALUE@AVG", "WHY"}, rows)...)
		out = append(out, "")
	}
	for _, s := range r.Statements {
		out = append(out, fmt.Sprintf("Statement: %s %s (%s, %d positions)", s.Broker, s.Path, describeFormat(s), s.Positions))
		if len(s.Ignored) > 0 {
			out = append(out, wrap("  ignored: ", strings.Join(s.Ignored, ", "), 80)...)
		}
	}
	for _, e := range r.Evidence {
		out = append(out, "Evidence: "+e.Path, "  sha256 "+e.SHA256)
	}
	out = append(out, fmt.Sprintf("Compared %d positions (tolerance %g): %s, %d matched.",
		r.Compared, r.Tolerance, plural(len(r.Breaks), "break"), r.Compared-len(r.Breaks)))
	if len(r.Breaks) > 0 {
		out = append(out, fmt.Sprintf("Break value %s at average price.", money(r.BreakValue)))
	}
	if r.OpenOrders > 0 {
		out = append(out, fmt.Sprintf("%d open or pending orders (engage the kill switch to cancel them).", r.OpenOrders))
	}
	for _, n := range r.Notes {
		out = append(out, "Note: "+n)
	}
	if len(r.PendingTrades) > 0 {
		out = append(out, "", fmt.Sprintf("Pending trades (%d), in flight when the system stopped.", len(r.PendingTrades)),
			"Confirm each with the broker:")
		rows := make([][]string, 0, len(r.PendingTrades))
		for _, t := range r.PendingTrades {
			oid := "-"
			if t.OrderID != nil {
				oid = strconv.FormatInt(*t.OrderID, 10)
			}
			rows = append(rows, []string{strconv.FormatInt(t.ID, 10), oid, t.Symbol, t.Side, qty(t.Qty), strconv.FormatFloat(t.Price, 'f', 2, 64), shortStamp(t.ExecutedAt)})
		}
		out = append(out, table.Render([]string{"TRADE", "ORDER", "SYMBOL", "SIDE", "QTY", "PRICE", "EXECUTED"}, rows)...)
	}
	return out
}

func qty(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// plural says "1 break" or "2 breaks".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// shortStamp shows a database timestamp to the second ("2026-03-13
// 19:22:18Z"); anything it cannot read is shown as it is.
func shortStamp(s string) string {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC().Format("2006-01-02 15:04:05Z")
	}
	return s
}

func signed(v float64) string {
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if v > 0 {
		s = "+" + s
	}
	return s
}

func money(v float64) string {
	s := strconv.FormatFloat(v, 'f', 2, 64)
	intPart, frac, _ := strings.Cut(s, ".")
	neg := strings.HasPrefix(intPart, "-")
	intPart = strings.TrimPrefix(intPart, "-")
	var b strings.Builder
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-$" + b.String() + "." + frac
	}
	return "$" + b.String() + "." + frac
}

// describeFormat names a statement's format and layout for a reader.
func describeFormat(s StatementInfo) string {
	switch s.Layout {
	case LayoutActivity:
		return s.Format + ", Activity Statement"
	case LayoutFlexSections:
		return s.Format + ", Flex Query with headers and trailers"
	}
	return s.Format
}

// wrap lays text out after prefix in lines of at most width columns,
// breaking after ", ".
func wrap(prefix, text string, width int) []string {
	var out []string
	line := prefix
	for _, w := range strings.SplitAfter(text, ", ") {
		if len([]rune(line))+len([]rune(w)) > width && line != prefix && strings.TrimSpace(line) != "" {
			out = append(out, strings.TrimRight(line, " "))
			line = strings.Repeat(" ", len(prefix))
		}
		line += w
	}
	return append(out, strings.TrimRight(line, " "))
}

// drillAPIs refuses, in a drill, a broker API that is not on this host: a
// sandbox's .env points at Alpaca's real paper API, and a drill never
// talks to a broker.
func drillAPIs(root string, sources []string, api *APIOptions) error {
	if err := LoadAPIEnv(root, api); err != nil {
		return err
	}
	for _, s := range sources {
		u := ""
		switch s {
		case SourceAlpacaAPI:
			u = orDefault(api.AlpacaURL, DefaultAlpacaURL)
		case SourceIBKRAPI:
			u = orDefault(api.IBKRURL, DefaultIBKRURL)
		default:
			continue
		}
		if !loopback(u) {
			return fmt.Errorf("reconcile: %s: a drill reads broker APIs only on this host, not %s: use the sandbox's statement files", s, u)
		}
	}
	return nil
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

// loopback reports whether a URL's host is this machine.
func loopback(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	h := u.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// requestOptions reads a reconcile or adopt-positions step's parameters.
func requestOptions(req steps.Request) (Options, error) {
	o := Options{Root: req.Env.Root, Format: req.Params["format"], Tolerance: DefaultTolerance}
	if v := strings.TrimSpace(req.Params["tolerance"]); v != "" {
		t, err := strconv.ParseFloat(v, 64)
		if err != nil || t < 0 {
			return o, fmt.Errorf("reconcile: tolerance %q: want a number >= 0", v)
		}
		o.Tolerance = t
	}
	// Relative statement paths are under the root, or under the dir
	// parameter; "." reads them as given, from the working directory
	// (the command line's --broker).
	base := req.Env.Root
	if d := strings.TrimSpace(req.Params["dir"]); d != "" {
		base = d
	}
	for _, p := range strings.Split(req.Params["broker"], ",") {
		if p = strings.TrimSpace(p); p != "" {
			if p != SourceAlpacaAPI && p != SourceIBKRAPI && !filepath.IsAbs(p) && base != "." {
				p = filepath.Join(base, p)
			}
			o.Statements = append(o.Statements, p)
		}
	}
	// The API parameters come first, then the runbook's variables, then
	// the root's .env, as for the kill switch.
	o.API = APIOptions{AlpacaURL: strings.TrimSpace(req.Params["alpaca-url"]), IBKRURL: strings.TrimSpace(req.Params["ibkr-url"]),
		IBKRAccount: strings.TrimSpace(req.Params["ibkr-account"])}
	// ibkr-insecure turns TLS verification off for the IBKR gateway. It
	// is the command line's --ibkr-insecure, deliberately not declared in
	// the spec: a runbook step (a request with a block) cannot turn
	// verification off.
	if v := strings.TrimSpace(req.Params["ibkr-insecure"]); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return o, fmt.Errorf("reconcile: ibkr-insecure %q: want true or false", v)
		}
		if b && req.Block != nil {
			return o, errors.New("reconcile: ibkr-insecure: a runbook step cannot turn TLS verification off (drbook reconcile --ibkr-insecure can)")
		}
		o.API.IBKRInsecure = b
	}
	if v := strings.TrimSpace(req.Params["api-timeout"]); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return o, fmt.Errorf("reconcile: api-timeout %q: want a duration above 0, such as 15s", v)
		}
		o.API.Timeout = d
	}
	FillAPI(req.Env.Vars, &o.API)
	if req.Env.Drill {
		if err := drillAPIs(req.Env.Root, o.Statements, &o.API); err != nil {
			return o, err
		}
	}
	// Within an incident the statements and answers read are kept as
	// evidence: in the directory the evidence parameter names, else
	// STATE_DIR/evidence/ID under the default state directory.
	o.Now = req.Env.Now
	if d := strings.TrimSpace(req.Params["evidence"]); d != "" {
		o.EvidenceDir = d
	} else if req.Env.IncidentID != "" {
		stateDir := req.Env.StateDir
		if stateDir == "" {
			stateDir = system.StateDir(os.Getenv)
		}
		o.EvidenceDir = EvidenceDir(stateDir, req.Env.IncidentID)
	}
	return o, nil
}

// AdoptAction is the adopt-positions action: it settles the breaks where
// the broker's statement and the filled trades agree against the
// database, with an audit_trail row each (see Adopt).
type AdoptAction struct{}

// Spec implements steps.Action.
func (AdoptAction) Spec() steps.Spec { return adoptSpec }

// Run implements steps.Action: breaks left for review are StatusFailed.
func (AdoptAction) Run(ctx context.Context, req steps.Request, emit steps.Emit) (steps.Result, error) {
	if emit == nil {
		emit = func(steps.Event) {}
	}
	o, err := requestOptions(req)
	if err != nil {
		return steps.Result{Status: steps.StatusFailed, Summary: err.Error()}, err
	}
	res, err := Adopt(ctx, AdoptOptions{Options: o, Actor: "drbook:" + req.Env.Operator, DryRun: req.DryRun})
	if err != nil {
		return steps.Result{Status: steps.StatusFailed, Summary: hint.Message(err)}, err
	}
	for _, l := range AdoptLines(res) {
		emit(steps.Event{Time: req.Env.Clock(), Stream: steps.Stdout, Line: l})
	}
	r := steps.Result{Status: steps.StatusOK, Summary: AdoptSummary(res), Data: res}
	if len(res.Left) > 0 {
		r.Status = steps.StatusFailed
	}
	return r, nil
}
