package reconcile_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drbook/drbook/runbook/hint"
	"github.com/drbook/drbook/steps/reconcile"
)

const (
	testKeyID  = "PKTESTKEY0123456789"
	testSecret = "s3cr3tS3CR3Ts3cr3tS3CR3Ts3cr3tS3CR3Tabcd"
)

// alpacaServer answers as Alpaca's trading API does: GET /v2/positions
// with the APCA-API-KEY-ID and APCA-API-SECRET-KEY headers, else 401
// {"code":40110000,"message":"request is not authorized"}. statuses are
// answered first, one per request (429 with Retry-After, 503...).
type alpacaServer struct {
	*httptest.Server
	mu       sync.Mutex
	statuses []int
	retry    string
	body     []byte
	requests int
}

func newAlpacaServer(t *testing.T, body []byte, statuses ...int) *alpacaServer {
	t.Helper()
	s := &alpacaServer{statuses: statuses, body: body, retry: "2"}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests++
		var status int
		if len(s.statuses) > 0 {
			status, s.statuses = s.statuses[0], s.statuses[1:]
		}
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path != "/v2/positions" || r.Method != http.MethodGet {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"code":40410000,"message":"endpoint not found"}`)
			return
		}
		if r.Header.Get("APCA-API-KEY-ID") != testKeyID || r.Header.Get("APCA-API-SECRET-KEY") != testSecret {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"code":40110000,"message":"request is not authorized"}`)
			return
		}
		switch status {
		case 0:
			w.Write(s.body)
		case http.StatusTooManyRequests:
			w.Header().Set("Retry-After", s.retry)
			w.WriteHeader(status)
			fmt.Fprint(w, `{"code":42910000,"message":"rate limit exceeded"}`)
		default:
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"code":%d0000,"message":"internal server error"}`, status)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

// sleeper records the waits asked for, without waiting.
type sleeper struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleeper) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	return ctx.Err()
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFetchAlpaca(t *testing.T) {
	body := mustRead(t, "testdata/alpaca_positions.json")
	tests := []struct {
		name      string
		statuses  []int
		retry     string
		key       string
		body      []byte
		wantErr   string // "" means success
		wantWaits []time.Duration
		isBad     bool // ErrBadStatement rather than ErrBrokerAPI
	}{
		{name: "ok", body: body},
		{name: "rate limited twice", statuses: []int{429, 429}, body: body, wantWaits: []time.Duration{2 * time.Second, 2 * time.Second}},
		{name: "rate limited, HTTP date", statuses: []int{429}, retry: "Thu, 01 Jan 1970 00:00:00 GMT", body: body, wantWaits: []time.Duration{0}},
		{name: "unavailable then ok", statuses: []int{503, 502}, body: body, wantWaits: []time.Duration{time.Second, 2 * time.Second}},
		{name: "rate limited for good", statuses: []int{429, 429, 429, 429, 429}, body: body,
			wantErr: "alpaca-api: GET URL/v2/positions: 429 Too Many Requests: rate limit exceeded, still after 3 retries", wantWaits: []time.Duration{2 * time.Second, 2 * time.Second, 2 * time.Second}},
		{name: "asks for an hour", statuses: []int{429}, retry: "3600", body: body, wantErr: "the broker asks to wait 1h0m0s"},
		{name: "server error", statuses: []int{500}, body: body, wantErr: "500 Internal Server Error: internal server error (hint: the broker's side failed"},
		{name: "wrong keys", key: "PKWRONG", body: body, wantErr: "401 Unauthorized: request is not authorized (hint: the API keys were refused: check ALPACA_API_KEY and ALPACA_SECRET_KEY"},
		{name: "malformed JSON", body: []byte("[\n{\"symbol\": \"AAPL\", \"qty\": \"1\"},\n{\"symbol\": "), wantErr: "URL/v2/positions:3: bad broker statement: position is not a JSON object", isBad: true},
		{name: "not an array", body: []byte(`{"code":40010001,"message":"bad"}`), wantErr: "want a JSON array", isBad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newAlpacaServer(t, tt.body, tt.statuses...)
			if tt.retry != "" {
				srv.retry = tt.retry
			}
			key := testKeyID
			if tt.key != "" {
				key = tt.key
			}
			var sl sleeper
			f, err := reconcile.FetchAlpaca(context.Background(), reconcile.APIOptions{
				AlpacaURL: srv.URL, AlpacaKeyID: key, AlpacaSecret: testSecret, Sleep: sl.sleep})
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if string(f.Raw) != string(tt.body) || len(f.Statement.Positions) != 3 || f.Statement.Positions["MSFT"].Qty != -50 ||
					f.Statement.Format != reconcile.SourceAlpacaAPI || f.Statement.Path != srv.URL+"/v2/positions" {
					t.Errorf("%+v", f.Statement)
				}
			} else {
				msg := strings.ReplaceAll(hint.Message(err), srv.URL, "URL")
				if err == nil || !strings.Contains(msg, tt.wantErr) {
					t.Fatalf("err %v, want %q", msg, tt.wantErr)
				}
				want := reconcile.ErrBrokerAPI
				if tt.isBad {
					want = reconcile.ErrBadStatement
				}
				if !errors.Is(err, want) {
					t.Errorf("%v is not %v", err, want)
				}
				if strings.Contains(msg, testSecret) || strings.Contains(msg, key) {
					t.Errorf("a key is in the message: %s", msg)
				}
			}
			if fmt.Sprint(sl.waits) != fmt.Sprint(tt.wantWaits) {
				t.Errorf("waits %v, want %v", sl.waits, tt.wantWaits)
			}
		})
	}
}

// TestFetchNoRedirect: the keys are never sent on to where a redirect
// points.
func TestFetchNoRedirect(t *testing.T) {
	var leaked bool
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked = r.Header.Get("APCA-API-SECRET-KEY") != ""
		fmt.Fprint(w, "[]")
	}))
	defer other.Close()
	srv := httptest.NewServer(http.RedirectHandler(other.URL+"/v2/positions", http.StatusFound))
	defer srv.Close()
	_, err := reconcile.FetchAlpaca(context.Background(), reconcile.APIOptions{AlpacaURL: srv.URL, AlpacaKeyID: testKeyID, AlpacaSecret: testSecret})
	if !errors.Is(err, reconcile.ErrBrokerAPI) || !strings.Contains(err.Error(), "302 Found") || !strings.Contains(hint.Message(err), "redirected to "+other.URL) || leaked {
		t.Errorf("redirect: %v (leaked %v)", err, leaked)
	}
}

func TestFetchAlpacaURLAndKeys(t *testing.T) {
	srv := newAlpacaServer(t, []byte("[]"))
	// A base URL given with /v2, as some .env files have it.
	f, err := reconcile.FetchAlpaca(context.Background(), reconcile.APIOptions{AlpacaURL: srv.URL + "/v2/", AlpacaKeyID: testKeyID, AlpacaSecret: testSecret})
	if err != nil || len(f.Statement.Positions) != 0 {
		t.Fatalf("%v %+v", err, f)
	}
	_, err = reconcile.FetchAlpaca(context.Background(), reconcile.APIOptions{AlpacaURL: srv.URL})
	if !errors.Is(err, reconcile.ErrBrokerAPI) || !strings.Contains(err.Error(), "no API keys") || srv.requests != 1 {
		t.Errorf("no keys: %v (%d requests)", err, srv.requests)
	}
}

// TestFetchTimeout: a broker that never answers is given up on at the
// time limit; an interrupted fetch is context.Canceled.
func TestFetchTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // never answers
	}))
	t.Cleanup(srv.Close)
	o := reconcile.APIOptions{AlpacaURL: srv.URL, AlpacaKeyID: testKeyID, AlpacaSecret: testSecret, IBKRURL: srv.URL, Timeout: 50 * time.Millisecond}
	_, err := reconcile.FetchAlpaca(context.Background(), o)
	if !errors.Is(err, reconcile.ErrBrokerAPI) || !strings.Contains(err.Error(), "no complete answer within 50ms") || !strings.Contains(hint.Message(err), "--api-timeout") {
		t.Errorf("alpaca: %v", err)
	}
	_, err = reconcile.FetchIBKR(context.Background(), o)
	if !errors.Is(err, reconcile.ErrBrokerAPI) || !strings.Contains(err.Error(), "no complete answer within 50ms") {
		t.Errorf("ibkr: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	o.Timeout = time.Hour
	if _, err := reconcile.FetchAlpaca(ctx, o); !errors.Is(err, context.Canceled) {
		t.Errorf("interrupted: %v", err)
	}
}

// ibkrGateway answers as the Client Portal gateway does:
// GET /v1/api/portfolio/accounts, then
// GET /v1/api/portfolio/{accountId}/positions/{pageId}, 100 positions a
// page. Positions are AAPL0000... with position = index+1.
type ibkrGateway struct {
	*httptest.Server
	mu        sync.Mutex
	positions map[string]int // account -> number of positions
	pages     []string       // requested, in order
	loggedIn  bool
	limited   int // answer 429 to this many position requests first
}

func newIBKRGateway(t *testing.T, tlsServer bool, positions map[string]int) *ibkrGateway {
	t.Helper()
	g := &ibkrGateway{positions: positions, loggedIn: true}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		defer g.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if !g.loggedIn {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		path := strings.TrimPrefix(r.URL.Path, "/v1/api")
		if path == "/portfolio/accounts" {
			var accts []map[string]any
			for _, id := range []string{"U1234567", "U7654321"} {
				if _, ok := g.positions[id]; ok {
					accts = append(accts, map[string]any{"id": id, "accountId": id, "accountVan": id, "accountTitle": "QuantAI", "currency": "USD", "type": "INDIVIDUAL", "covestor": false})
				}
			}
			json.NewEncoder(w).Encode(accts)
			return
		}
		var acct string
		var page int
		if _, err := fmt.Sscanf(strings.ReplaceAll(path, "/", " "), " portfolio %s positions %d", &acct, &page); err != nil {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		g.pages = append(g.pages, acct+"/"+strconv.Itoa(page))
		if g.limited > 0 {
			g.limited--
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		n, ok := g.positions[acct]
		if !ok {
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, `{"error":"unknown account"}`)
			return
		}
		items := []map[string]any{}
		for i := page * 100; i < n && i < (page+1)*100; i++ {
			items = append(items, map[string]any{
				"acctId": acct, "conid": 265598 + i, "contractDesc": fmt.Sprintf("S%04d", i), "position": float64(i + 1),
				"mktPrice": 190.5, "mktValue": 190.5 * float64(i+1), "currency": "USD", "avgCost": 168.0678, "avgPrice": 168.0678,
				"realizedPnl": 0.0, "unrealizedPnl": 1.5, "assetClass": "STK", "listingExchange": "NASDAQ", "ticker": fmt.Sprintf("S%04d", i),
			})
		}
		json.NewEncoder(w).Encode(items)
	})
	g.Server = httptest.NewUnstartedServer(h)
	g.Server.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake
	if tlsServer {
		g.Server.StartTLS()
	} else {
		g.Server.Start()
	}
	t.Cleanup(g.Close)
	return g
}

func TestFetchIBKRPaging(t *testing.T) {
	// 230 positions: pages of 100, 100, 30; 100 positions: a full page,
	// then an empty one.
	g := newIBKRGateway(t, false, map[string]int{"U1234567": 230, "U7654321": 100})
	g.limited = 1
	var sl sleeper
	f, err := reconcile.FetchIBKR(context.Background(), reconcile.APIOptions{IBKRURL: g.URL + "/v1/api", Sleep: sl.sleep})
	if err != nil {
		t.Fatal(err)
	}
	want := "[U1234567/0 U1234567/0 U1234567/1 U1234567/2 U7654321/0 U7654321/1]"
	if fmt.Sprint(g.pages) != want {
		t.Errorf("pages %v, want %s", g.pages, want)
	}
	if fmt.Sprint(sl.waits) != "[1s]" {
		t.Errorf("waits %v", sl.waits)
	}
	st := f.Statement
	// S0000..S0099 are in both accounts: positions added up.
	if len(st.Positions) != 230 || st.Positions["S0229"].Qty != 230 || st.Positions["S0005"].Qty != 12 || st.Positions["S0005"].AvgPrice != 168.0678 {
		t.Errorf("%d positions, S0229 %+v, S0005 %+v", len(st.Positions), st.Positions["S0229"], st.Positions["S0005"])
	}
	if fmt.Sprint(st.Accounts) != "[U1234567 U7654321]" || st.Broker != "ibkr" || st.Format != reconcile.SourceIBKRAPI {
		t.Errorf("%+v", st)
	}
	if strings.Join(st.Ignored, ",") != "listingExchange,realizedPnl,unrealizedPnl" {
		t.Errorf("ignored %q", st.Ignored)
	}
	var ev struct {
		Accounts []map[string]any `json:"accounts"`
		Pages    []struct {
			Account string            `json:"account"`
			Page    int               `json:"page"`
			Body    []json.RawMessage `json:"body"`
		} `json:"pages"`
	}
	if err := json.Unmarshal(f.Raw, &ev); err != nil || len(ev.Accounts) != 2 || len(ev.Pages) != 5 || len(ev.Pages[2].Body) != 30 {
		t.Errorf("evidence: %v %d accounts %d pages", err, len(ev.Accounts), len(ev.Pages))
	}

	g.pages = nil
	if f, err = reconcile.FetchIBKR(context.Background(), reconcile.APIOptions{IBKRURL: g.URL + "/v1/api", IBKRAccount: "U7654321"}); err != nil || len(f.Statement.Positions) != 100 {
		t.Errorf("one account: %v", err)
	}
	if _, err = reconcile.FetchIBKR(context.Background(), reconcile.APIOptions{IBKRURL: g.URL + "/v1/api", IBKRAccount: "U0000000"}); err == nil || !strings.Contains(err.Error(), "does not list account U0000000") {
		t.Errorf("unknown account: %v", err)
	}
}

func TestFetchIBKRErrors(t *testing.T) {
	g := newIBKRGateway(t, true, map[string]int{"U1234567": 3})
	// The gateway's self-signed certificate is refused unless asked.
	_, err := reconcile.FetchIBKR(context.Background(), reconcile.APIOptions{IBKRURL: g.URL + "/v1/api"})
	if !errors.Is(err, reconcile.ErrBrokerAPI) || !strings.Contains(hint.Message(err), "--ibkr-insecure") {
		t.Errorf("self-signed: %v", err)
	}
	f, err := reconcile.FetchIBKR(context.Background(), reconcile.APIOptions{IBKRURL: g.URL + "/v1/api", IBKRInsecure: true})
	if err != nil || len(f.Statement.Positions) != 3 {
		t.Errorf("insecure: %v", err)
	}
	g.mu.Lock()
	g.loggedIn = false
	g.mu.Unlock()
	_, err = reconcile.FetchIBKR(context.Background(), reconcile.APIOptions{IBKRURL: g.URL + "/v1/api", IBKRInsecure: true})
	if !errors.Is(err, reconcile.ErrBrokerAPI) || !strings.Contains(hint.Message(err), "401 Unauthorized (hint: the gateway is not logged in") {
		t.Errorf("not logged in: %v", err)
	}
	var ae *reconcile.APIError
	if !errors.As(err, &ae) || ae.Status != 401 || ae.Advice == "" {
		t.Errorf("APIError %+v", ae)
	}

	bad := []struct{ name, accounts, page, want string }{
		{"accounts not JSON", `<html>login</html>`, `[]`, "want a JSON array of accounts"},
		{"page not JSON", `[{"accountId":"U1"}]`, `[{"acctId":"U1","contractDesc":"AAPL","position":`, "want a JSON array of positions"},
		{"position a string", `[{"accountId":"U1"}]`, `[{"acctId":"U1","contractDesc":"AAPL","position":"lots"}]`, `position 1: position "lots": not a number`},
		{"no position", `[{"accountId":"U1"}]`, `[{"acctId":"U1","contractDesc":"AAPL"}]`, "position 1: no position"},
		{"no symbol", `[{"accountId":"U1"}]`, `[{"acctId":"U1","position":1}]`, "position 1: no contractDesc"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.HasSuffix(r.URL.Path, "/accounts") {
					fmt.Fprint(w, tt.accounts)
					return
				}
				fmt.Fprint(w, tt.page)
			}))
			defer srv.Close()
			_, err := reconcile.FetchIBKR(context.Background(), reconcile.APIOptions{IBKRURL: srv.URL})
			if !errors.Is(err, reconcile.ErrBadStatement) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err %v, want %q", err, tt.want)
			}
		})
	}
}

// TestReconcileAPIEvidence: reconciling against the API with the keys of
// the root's .env keeps the answer as evidence, named with its SHA-256 in
// the report.
func TestReconcileAPIEvidence(t *testing.T) {
	root := MustSandbox(t)
	body := mustRead(t, filepath.Join(root, reconcile.AlpacaStatement))
	env := mustRead(t, filepath.Join(root, ".env"))
	if err := os.WriteFile(filepath.Join(root, ".env"), append(env, []byte("\nALPACA_API_KEY="+testKeyID+"\nALPACA_SECRET_KEY="+testSecret+"\n")...), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := newAlpacaServer(t, body)
	dir := filepath.Join(t.TempDir(), "evidence", "INC-1")
	now := time.Date(2026, 12, 2, 6, 25, 12, 0, time.UTC)
	o := reconcile.Options{Root: root, Statements: []string{reconcile.SourceAlpacaAPI, filepath.Join(root, reconcile.IBKRStatement)},
		API: reconcile.APIOptions{AlpacaURL: srv.URL}, EvidenceDir: dir, Now: func() time.Time { return now }}
	rep := run(t, o)
	if !rep.OK() || len(rep.Statements) != 2 || len(rep.Evidence) != 2 {
		t.Fatalf("%+v", rep)
	}
	for i, want := range []struct{ name, source string }{
		{"reconcile-20261202T062512Z-alpaca-api.json", srv.URL + "/v2/positions"},
		{"reconcile-20261202T062512Z-ibkr-statement.csv", filepath.Join(root, reconcile.IBKRStatement)},
	} {
		ev := rep.Evidence[i]
		data := mustRead(t, ev.Path)
		sum := sha256.Sum256(data)
		if filepath.Base(ev.Path) != want.name || filepath.Dir(ev.Path) != dir || ev.Source != want.source || ev.SHA256 != hex.EncodeToString(sum[:]) || ev.Bytes != len(data) {
			t.Errorf("evidence %+v", ev)
		}
		if fi, err := os.Stat(ev.Path); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("evidence mode: %v %v", fi.Mode(), err)
		}
	}
	if got := mustRead(t, rep.Evidence[0].Path); string(got) != string(body) {
		t.Error("the kept answer is not the answer")
	}
	// A second run keeps its own copies; nothing is overwritten.
	rep2 := run(t, o)
	if rep2.Evidence[0].Path == rep.Evidence[0].Path || !strings.HasSuffix(rep2.Evidence[0].Path, "-alpaca-api-2.json") {
		t.Errorf("second run: %s", rep2.Evidence[0].Path)
	}
	out := strings.Join(reconcile.Render(rep), "\n")
	if !strings.Contains(out, "Evidence: "+rep.Evidence[0].Path) || !strings.Contains(out, "sha256 "+rep.Evidence[0].SHA256) {
		t.Errorf("render:\n%s", out)
	}
	if strings.Contains(out, testSecret) || strings.Contains(out, testKeyID) {
		t.Error("a key is in the output")
	}
}
