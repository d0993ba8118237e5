package reconcile

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/drbook/drbook/runbook/hint"
	"github.com/drbook/drbook/steps/positions"
	"github.com/drbook/drbook/steps/redact"
	"github.com/drbook/drbook/steps/system"
)

// Broker API sources: named where a statement file would be (--broker
// alpaca-api), they read the positions from the broker instead.
const (
	SourceAlpacaAPI = "alpaca-api"
	SourceIBKRAPI   = "ibkr-api"
)

// API defaults.
const (
	// DefaultAlpacaURL is Alpaca's paper trading API: a mistake there
	// costs nothing. Live accounts set ALPACA_BASE_URL (or
	// APCA_API_BASE_URL) to https://api.alpaca.markets.
	DefaultAlpacaURL = "https://paper-api.alpaca.markets"
	// DefaultIBKRURL is the Client Portal gateway as it runs out of the
	// box, on this host.
	DefaultIBKRURL = "https://localhost:5000/v1/api"
	// DefaultAPITimeout bounds one reading of a broker API, retries
	// included.
	DefaultAPITimeout = 15 * time.Second
	// DefaultAPIRetries is how many times a rate-limited (429) or
	// unavailable (502, 503, 504) request is tried again.
	DefaultAPIRetries = 3
	// maxRetryWait is the longest Retry-After honoured; a broker asking
	// for more is reported, not waited for, during an outage.
	maxRetryWait = time.Minute
	// ibkrPageSize is how many positions a Client Portal page holds; a
	// shorter page is the last.
	ibkrPageSize = 100
	// maxPages stops a gateway that never sends a short page.
	maxPages = 1000
	// maxBody bounds one API answer.
	maxBody = 64 << 20
)

// ErrBrokerAPI is the cause of every failure to read a broker's API: the
// message says what the broker answered and what to do.
var ErrBrokerAPI = errors.New("broker API")

// APIError is a failure to read a broker's API.
type APIError struct {
	Source string // alpaca-api or ibkr-api
	URL    string // never holds a key
	Status int    // HTTP status; 0 when there was no answer
	Detail string
	// Advice says what the operator should do next. It is not part of
	// Error(): hint.Of finds it, and hint.Message shows both on one line.
	Advice string
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("%s: %s", e.Source, e.Detail)
	if e.URL != "" {
		s = fmt.Sprintf("%s: GET %s: %s", e.Source, e.URL, e.Detail)
	}
	return s
}

// Hint returns the advice; it makes *APIError a hint.Hinter.
func (e *APIError) Hint() string { return e.Advice }

var _ hint.Hinter = (*APIError)(nil)

// Unwrap makes every APIError an ErrBrokerAPI.
func (e *APIError) Unwrap() error { return ErrBrokerAPI }

// APIOptions say how to reach the brokers' APIs.
type APIOptions struct {
	AlpacaURL    string // default DefaultAlpacaURL
	AlpacaKeyID  string // sent as APCA-API-KEY-ID; never printed
	AlpacaSecret string // sent as APCA-API-SECRET-KEY; never printed
	IBKRURL      string // default DefaultIBKRURL
	IBKRAccount  string // one account; "" reads every account the gateway lists
	// IBKRInsecure skips TLS certificate verification for the IBKR
	// gateway, whose certificate is self-signed out of the box. Only an
	// explicit flag sets it.
	IBKRInsecure bool
	Timeout      time.Duration // default DefaultAPITimeout; < 0 means none
	Retries      int           // default DefaultAPIRetries; < 0 means none
	// Sleep waits between retries; nil waits for real. Tests inject one.
	Sleep func(ctx context.Context, d time.Duration) error
	// Client is the HTTP client; nil builds one (tests pass the
	// httptest server's).
	Client *http.Client
}

// Fetched is what a broker API answered: the statement read from it and
// the bytes to keep as evidence.
type Fetched struct {
	Statement Statement
	Raw       []byte
	Ext       string // ".json"
}

func (o APIOptions) timeout() time.Duration {
	switch {
	case o.Timeout == 0:
		return DefaultAPITimeout
	case o.Timeout < 0:
		return 0
	}
	return o.Timeout
}

func (o APIOptions) retries() int {
	switch {
	case o.Retries == 0:
		return DefaultAPIRetries
	case o.Retries < 0:
		return 0
	}
	return o.Retries
}

func (o APIOptions) sleep(ctx context.Context, d time.Duration) error {
	if o.Sleep != nil {
		return o.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// client is the HTTP client for one API. It never follows a redirect:
// the keys travel in custom headers, which Go would send on to wherever a
// redirect points.
func (o APIOptions) client(insecure bool) *http.Client {
	c := &http.Client{}
	if o.Client != nil {
		cp := *o.Client
		c = &cp
	}
	if c.Transport == nil {
		c.Transport = http.DefaultTransport
	}
	if insecure {
		if tr, ok := c.Transport.(*http.Transport); ok {
			tr = tr.Clone()
			if tr.TLSClientConfig == nil {
				tr.TLSClientConfig = &tls.Config{}
			}
			tr.TLSClientConfig.InsecureSkipVerify = true //nolint:gosec // explicit --ibkr-insecure
			c.Transport = tr
		}
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

// fetcher makes the requests of one reading of an API.
type fetcher struct {
	source  string
	o       APIOptions
	client  *http.Client
	header  http.Header
	secrets []string
	hints   map[int]string // what to do on a status
}

// get fetches url, retrying rate limits and unavailability a bounded
// number of times as Retry-After asks, and returns a 200's body.
func (f *fetcher) get(ctx, parent context.Context, u string) ([]byte, error) {
	backoff := time.Second
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, &APIError{Source: f.source, URL: u, Detail: "bad URL: " + f.clean(err.Error())}
		}
		for k, v := range f.header {
			req.Header[k] = v
		}
		req.Header.Set("Accept", "application/json")
		resp, err := f.client.Do(req)
		if err != nil {
			return nil, f.transportError(ctx, parent, u, err)
		}
		body, rerr := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
		resp.Body.Close()
		if rerr != nil {
			return nil, f.transportError(ctx, parent, u, rerr)
		}
		if len(body) > maxBody {
			return nil, &APIError{Source: f.source, URL: u, Status: resp.StatusCode, Detail: fmt.Sprintf("answer over %d MiB", maxBody>>20)}
		}
		if resp.StatusCode == http.StatusOK {
			return body, nil
		}
		retryable := resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusBadGateway ||
			resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusGatewayTimeout
		if !retryable || attempt >= f.o.retries() {
			e := &APIError{Source: f.source, URL: u, Status: resp.StatusCode, Detail: f.statusDetail(resp, body), Advice: f.hints[resp.StatusCode]}
			if retryable {
				e.Detail += fmt.Sprintf(", still after %d retries", attempt)
				if e.Advice == "" {
					e.Advice = "try again later"
				}
			}
			if e.Advice == "" && resp.StatusCode >= 300 && resp.StatusCode < 400 {
				e.Advice = "redirected to " + clip(f.clean(resp.Header.Get("Location")), 120) + "; drbook does not follow redirects with the keys: use that URL"
			}
			if e.Advice == "" && resp.StatusCode >= 500 {
				e.Advice = "the broker's side failed; try again later, or use a statement file"
			}
			return nil, e
		}
		wait := backoff
		if ra, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			wait = ra
		}
		if wait > maxRetryWait {
			return nil, &APIError{Source: f.source, URL: u, Status: resp.StatusCode, Detail: f.statusDetail(resp, body),
				Advice: fmt.Sprintf("the broker asks to wait %s; try again then, or use a statement file", wait.Round(time.Second))}
		}
		if err := f.o.sleep(ctx, wait); err != nil {
			return nil, f.transportError(ctx, parent, u, err)
		}
		backoff *= 2
	}
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		d := t.Sub(now)
		if d < 0 {
			d = 0
		}
		return d, true
	}
	return 0, false
}

// statusDetail is the status line and the broker's own message, if its
// body carries one ({"message": ...} or {"error": ...}), clipped.
func (f *fetcher) statusDetail(resp *http.Response, body []byte) string {
	s := resp.Status
	var m map[string]any
	if json.Unmarshal(body, &m) == nil {
		for _, k := range []string{"message", "error"} {
			if v, ok := m[k].(string); ok && v != "" {
				s += ": " + clip(f.clean(v), 200)
				break
			}
		}
	}
	return s
}

// transportError explains a request that got no answer: the time limit,
// an untrusted certificate, a refused connection.
func (f *fetcher) transportError(ctx, parent context.Context, u string, err error) error {
	if parent.Err() != nil {
		return parent.Err() // interrupted: the caller exits 130
	}
	e := &APIError{Source: f.source, URL: u, Detail: clip(f.clean(err.Error()), 300)}
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var certErr *tls.CertificateVerificationError
	switch {
	case ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded):
		e.Detail = fmt.Sprintf("no complete answer within %s", f.o.timeout())
		e.Advice = "is the broker reachable from this host? raise --api-timeout, or use a statement file"
	case errors.As(err, &unknownCA), errors.As(err, &certErr), errors.As(err, &hostErr):
		e.Advice = "the certificate is not trusted"
		if f.source == SourceIBKRAPI {
			e.Advice += "; the Client Portal gateway's own certificate is self-signed: pass --ibkr-insecure to accept it for this gateway"
		}
	default:
		e.Advice = "is the broker reachable from this host? check the URL, or use a statement file"
		if f.source == SourceIBKRAPI {
			e.Advice = "is the Client Portal gateway running and logged in? check --ibkr-url, or use a statement file"
		}
	}
	return e
}

// clean removes the keys from a message, should a server or a library
// ever echo them.
func (f *fetcher) clean(s string) string {
	for _, k := range f.secrets {
		if k != "" {
			s = strings.ReplaceAll(s, k, "[redacted]")
		}
	}
	return s
}

func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// withTimeout bounds one reading of an API.
func (o APIOptions) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if d := o.timeout(); d > 0 {
		return context.WithTimeout(ctx, d)
	}
	return context.WithCancel(ctx)
}

// FetchAlpaca reads the open positions from Alpaca's GET /v2/positions
// with the account's API keys.
func FetchAlpaca(ctx context.Context, o APIOptions) (Fetched, error) {
	base := strings.TrimRight(o.AlpacaURL, "/")
	if base == "" {
		base = DefaultAlpacaURL
	}
	base = strings.TrimSuffix(base, "/v2")
	u := base + "/v2/positions"
	if o.AlpacaKeyID == "" || o.AlpacaSecret == "" {
		return Fetched{}, &APIError{Source: SourceAlpacaAPI, Detail: "no API keys",
			Advice: "set ALPACA_API_KEY and ALPACA_SECRET_KEY (or APCA_API_KEY_ID and APCA_API_SECRET_KEY) in the root's .env"}
	}
	f := &fetcher{source: SourceAlpacaAPI, o: o, client: o.client(false), secrets: []string{o.AlpacaKeyID, o.AlpacaSecret},
		header: http.Header{"Apca-Api-Key-Id": {o.AlpacaKeyID}, "Apca-Api-Secret-Key": {o.AlpacaSecret}},
		hints: map[int]string{
			http.StatusUnauthorized: "the API keys were refused: check ALPACA_API_KEY and ALPACA_SECRET_KEY in the root's .env; paper keys work only with paper-api.alpaca.markets, live keys only with api.alpaca.markets",
			http.StatusForbidden:    "the API keys may not read positions: check the keys' account and permissions",
			http.StatusNotFound:     "check the base URL (ALPACA_BASE_URL or --alpaca-url): it should not include /v2",
		}}
	tctx, cancel := o.withTimeout(ctx)
	defer cancel()
	body, err := f.get(tctx, ctx, u)
	if err != nil {
		return Fetched{}, err
	}
	st, err := positions.ParseAlpaca(u, body)
	if err != nil {
		return Fetched{}, err
	}
	st.Format = SourceAlpacaAPI
	return Fetched{Statement: st, Raw: body, Ext: ".json"}, nil
}

// ibkrPosition holds the fields of a Client Portal position that
// reconciliation reads; numbers are JSON numbers.
var ibkrAPIFields = map[string]bool{
	"acctId": true, "conid": true, "contractDesc": true, "ticker": true, "position": true, "mktPrice": true,
	"mktValue": true, "avgCost": true, "avgPrice": true, "currency": true, "assetClass": true,
}

// FetchIBKR reads the open positions from the IBKR Client Portal gateway:
// GET /portfolio/accounts, then for each account
// GET /portfolio/{accountId}/positions/{pageId} from page 0 until a page
// holds fewer than 100 positions.
func FetchIBKR(ctx context.Context, o APIOptions) (Fetched, error) {
	base := strings.TrimRight(o.IBKRURL, "/")
	if base == "" {
		base = DefaultIBKRURL
	}
	f := &fetcher{source: SourceIBKRAPI, o: o, client: o.client(o.IBKRInsecure),
		hints: map[int]string{
			http.StatusUnauthorized: "the gateway is not logged in: log in to the Client Portal gateway in a browser on this host, then try again",
			http.StatusForbidden:    "the gateway refused this client: check its ips.allow setting, or log in again",
			http.StatusNotFound:     "check --ibkr-url: it should end in /v1/api",
		}}
	tctx, cancel := o.withTimeout(ctx)
	defer cancel()
	accURL := base + "/portfolio/accounts"
	accBody, err := f.get(tctx, ctx, accURL)
	if err != nil {
		return Fetched{}, err
	}
	var accounts []map[string]any
	if err := json.Unmarshal(accBody, &accounts); err != nil {
		return Fetched{}, positions.StatementError(accURL, 0, "want a JSON array of accounts: %v", err)
	}
	var ids []string
	for _, a := range accounts {
		id, _ := a["accountId"].(string)
		if id == "" {
			id, _ = a["id"].(string)
		}
		if id != "" && (o.IBKRAccount == "" || id == o.IBKRAccount) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		detail := "the gateway lists no accounts"
		if o.IBKRAccount != "" {
			detail = "the gateway does not list account " + o.IBKRAccount
		}
		return Fetched{}, &APIError{Source: SourceIBKRAPI, URL: accURL, Status: http.StatusOK, Detail: detail, Advice: "check the account and the gateway's login"}
	}
	type page struct {
		Account string          `json:"account"`
		Page    int             `json:"page"`
		URL     string          `json:"url"`
		Body    json.RawMessage `json:"body"`
	}
	evidence := struct {
		Source   string          `json:"source"`
		Accounts json.RawMessage `json:"accounts"`
		Pages    []page          `json:"pages"`
	}{Source: base, Accounts: rawJSON(accBody)}

	header := []string{"acctId", "contractDesc", "position", "avgPrice", "mktPrice", "currency", "assetClass"}
	p, err := positions.NewIBKRRows(base, header)
	if err != nil {
		return Fetched{}, err
	}
	for _, id := range ids {
		for pg := 0; ; pg++ {
			if pg == maxPages {
				return Fetched{}, &APIError{Source: SourceIBKRAPI, URL: base, Detail: fmt.Sprintf("account %s: over %d pages of positions", id, maxPages)}
			}
			u := base + "/portfolio/" + url.PathEscape(id) + "/positions/" + strconv.Itoa(pg)
			body, err := f.get(tctx, ctx, u)
			if err != nil {
				return Fetched{}, err
			}
			evidence.Pages = append(evidence.Pages, page{Account: id, Page: pg, URL: u, Body: rawJSON(body)})
			var items []map[string]json.RawMessage
			dec := json.NewDecoder(bytes.NewReader(body))
			dec.UseNumber()
			if err := dec.Decode(&items); err != nil {
				return Fetched{}, positions.StatementError(u, 0, "want a JSON array of positions: %v", err)
			}
			for i, it := range items {
				rec, err := ibkrAPIRecord(u, i+1, id, it, p)
				if err != nil {
					return Fetched{}, err
				}
				if err := p.Add(rec); err != nil {
					return Fetched{}, err
				}
			}
			if len(items) < ibkrPageSize {
				break
			}
		}
	}
	raw, err := json.MarshalIndent(evidence, "", "  ")
	if err != nil {
		return Fetched{}, fmt.Errorf("ibkr-api: keep the answer: %w", err)
	}
	st := Statement{Broker: "ibkr", Path: base, Format: SourceIBKRAPI, Positions: p.Positions(), Ignored: p.Ignored(), Accounts: ids}
	return Fetched{Statement: st, Raw: append(raw, '\n'), Ext: ".json"}, nil
}

// ibkrAPIRecord turns one Client Portal position into the fields of the
// header acctId, contractDesc, position, avgPrice, mktPrice, currency,
// assetClass; the i-th position of page u is named in messages.
func ibkrAPIRecord(u string, i int, account string, it map[string]json.RawMessage, p *positions.IBKRRows) ([]string, error) {
	keys := make([]string, 0, len(it))
	for k := range it {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !ibkrAPIFields[k] {
			p.Ignore(k)
		}
	}
	str := func(k string) string {
		var s string
		if raw, ok := it[k]; ok && json.Unmarshal(raw, &s) == nil {
			return s
		}
		return ""
	}
	num := func(k string, need bool) (string, error) {
		raw, ok := it[k]
		if !ok || string(raw) == "null" {
			if need {
				return "", positions.StatementError(u, i, "position %d: no %s", i, k)
			}
			return "", nil
		}
		v, err := positions.JSONNumber(raw)
		if err != nil {
			return "", positions.StatementError(u, i, "position %d: %s %s: %v", i, k, clip(string(raw), 40), err)
		}
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	}
	sym := strings.TrimSpace(str("contractDesc"))
	if sym == "" {
		sym = strings.TrimSpace(str("ticker"))
	}
	if sym == "" {
		return nil, positions.StatementError(u, i, "position %d: no contractDesc", i)
	}
	qty, err := num("position", true)
	if err != nil {
		return nil, err
	}
	avg, err := num("avgPrice", false)
	if err != nil {
		return nil, err
	}
	if avg == "" {
		if avg, err = num("avgCost", false); err != nil {
			return nil, err
		}
	}
	mark, err := num("mktPrice", false)
	if err != nil {
		return nil, err
	}
	acct := str("acctId")
	if acct == "" {
		acct = account
	}
	return []string{acct, sym, qty, avg, mark, str("currency"), str("assetClass")}, nil
}

// rawJSON keeps a body as JSON in the evidence, or as a JSON string when
// it is not JSON.
func rawJSON(b []byte) json.RawMessage {
	if json.Valid(b) {
		return json.RawMessage(bytes.TrimSpace(b))
	}
	s, _ := json.Marshal(string(b))
	return s
}

// LoadAPIEnv fills the keys and base URLs o leaves empty from the root's
// .env: ALPACA_API_KEY, ALPACA_SECRET_KEY and ALPACA_BASE_URL (or Alpaca's
// own names APCA_API_KEY_ID, APCA_API_SECRET_KEY, APCA_API_BASE_URL),
// IBKR_CP_URL for the Client Portal gateway and IBKR_ACCOUNT_ID. A missing
// .env is not an error: FetchAlpaca then says which keys it lacks.
func LoadAPIEnv(root string, o *APIOptions) error {
	env, err := redact.ReadEnv(system.Env(root))
	if errors.Is(err, fs.ErrNotExist) {
		env, err = map[string]string{}, nil
	}
	if err != nil {
		return fmt.Errorf("reconcile: read the API keys: %w", err)
	}
	FillAPI(env, o)
	return nil
}

// FillAPI fills what o leaves empty from vars, by the names LoadAPIEnv
// reads.
func FillAPI(vars map[string]string, o *APIOptions) {
	pick := func(dst *string, keys ...string) {
		for _, k := range keys {
			if *dst == "" {
				*dst = strings.TrimSpace(vars[k])
			}
		}
	}
	pick(&o.AlpacaKeyID, "ALPACA_API_KEY", "ALPACA_API_KEY_ID", "APCA_API_KEY_ID")
	pick(&o.AlpacaSecret, "ALPACA_SECRET_KEY", "ALPACA_API_SECRET_KEY", "APCA_API_SECRET_KEY")
	pick(&o.AlpacaURL, "ALPACA_BASE_URL", "APCA_API_BASE_URL")
	pick(&o.IBKRURL, "IBKR_CP_URL", "IBKR_GATEWAY_URL")
	pick(&o.IBKRAccount, "IBKR_ACCOUNT_ID")
}
