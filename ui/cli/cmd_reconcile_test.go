package cli_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drbook/drbook/checks"
	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/steps/reconcile"
)

// alpacaAPI answers GET /v2/positions as Alpaca does, for the keys of the
// root's .env only, with the root's own Alpaca statement.
func alpacaAPI(t *testing.T, root string) *httptest.Server {
	t.Helper()
	env, err := checks.ReadEnv(filepath.Join(root, ".env"))
	if err != nil {
		t.Fatal(err)
	}
	body, err := os.ReadFile(filepath.Join(root, reconcile.AlpacaStatement))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v2/positions" {
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("APCA-API-KEY-ID") != env["ALPACA_API_KEY"] || r.Header.Get("APCA-API-SECRET-KEY") != env["ALPACA_SECRET_KEY"] {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"code":40110000,"message":"request is not authorized"}`)
			return
		}
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestReconcileCommandAPI(t *testing.T) {
	root := actionSandbox(t)
	srv := alpacaAPI(t, root)
	env, _ := checks.ReadEnv(filepath.Join(root, ".env"))

	r := runActionCmd(t, "", false, nil, "reconcile", "--root", root, "--broker", "alpaca-api", "--alpaca-url", srv.URL)
	if r.code != 0 || !strings.Contains(r.stdout, "Statement: alpaca "+srv.URL+"/v2/positions (alpaca-api,") {
		t.Fatalf("%+v", r)
	}

	// Keys refused: exit 2, what to do, and never a key.
	if err := os.WriteFile(filepath.Join(root, ".env"), []byte("ALPACA_API_KEY=PKWRONGKEY1234\nALPACA_SECRET_KEY=wrongsecretwrongsecret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = runActionCmd(t, "", false, nil, "reconcile", "--root", root, "--broker", "alpaca-api", "--alpaca-url", srv.URL)
	if r.code != 2 || !strings.Contains(r.stderr, "401 Unauthorized") || !strings.Contains(r.stderr, "ALPACA_SECRET_KEY") {
		t.Errorf("wrong keys: %+v", r)
	}
	for _, k := range []string{"PKWRONGKEY1234", "wrongsecretwrongsecret", env["ALPACA_API_KEY"], env["ALPACA_SECRET_KEY"]} {
		if strings.Contains(r.stdout+r.stderr, k) {
			t.Errorf("key %q printed", k)
		}
	}

	for _, args := range [][]string{{"--api-timeout", "0s"}, {"--api-timeout", "soon"}} {
		if r := runActionCmd(t, "", false, nil, append([]string{"reconcile", "--root", root, "--broker", "alpaca-api"}, args...)...); r.code != 2 {
			t.Errorf("%v: %+v", args, r)
		}
	}
}

// TestReconcileCommandEvidence: with --incident, the API answer and the
// statement file read are kept under STATE_DIR/evidence/ID, and their
// paths and SHA-256 are in the timeline's result.
func TestReconcileCommandEvidence(t *testing.T) {
	root := actionSandbox(t)
	srv := alpacaAPI(t, root)
	state := t.TempDir()
	id := mustDeclare(t, state, "complete-system-recovery", root)
	r := runActionCmd(t, "", false, map[string]string{"USER": "erin"}, "reconcile", "--root", root, "--incident", id, "--state-dir", state,
		"--broker", "alpaca-api", "--alpaca-url", srv.URL, "--broker", filepath.Join(root, reconcile.IBKRStatement))
	if r.code != 0 {
		t.Fatalf("%+v", r)
	}
	store, err := incident.OpenStore(state)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	events, err := store.Events(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var rep reconcile.Report
	for _, e := range events {
		if e.Data.Action == "reconcile" && len(e.Data.Result) > 0 {
			if err := json.Unmarshal(e.Data.Result, &rep); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(rep.Evidence) != 2 {
		t.Fatalf("evidence in the timeline: %+v", rep.Evidence)
	}
	for _, ev := range rep.Evidence {
		data, err := os.ReadFile(ev.Path)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		if filepath.Dir(ev.Path) != filepath.Join(state, "evidence", id) || ev.SHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("%+v", ev)
		}
		if !strings.Contains(r.stdout, ev.SHA256) {
			t.Errorf("sha256 of %s not printed", ev.Path)
		}
	}
	if v, err := store.Verify(context.Background(), id); err != nil || !v.OK {
		t.Errorf("verify: %+v %v", v, err)
	}
}
