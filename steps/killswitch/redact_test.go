package killswitch_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drbook/drbook/steps/killswitch"
)

// TestEngageRedactsEverySecret: an IBKR cancel command that prints the
// broker password, raw and base64, leaves it in none of the log, the
// returned state, the flag file, the audit trail or the status read back;
// and a flag file written by an older drbook with the password in it is
// shown redacted.
func TestEngageRedactsEverySecret(t *testing.T) {
	const pw, pin, reasonSecret = "ibkr-Very-Long-Password-77", "8842", "op-typed-token-123456"
	root := MustSystem(t)
	env := "IBKR_HOST=127.0.0.1\nIBKR_PASSWORD=" + pw + "\nBROKER_PIN=" + pin + "\n" +
		`IBKR_CANCEL_COMMAND=printf '%s' "$(grep ^IBKR_PASSWORD= .env | cut -d= -f2)" | base64; echo "pin $(grep ^BROKER_PIN= .env | cut -d= -f2)"; grep ^IBKR_PASSWORD= .env; exit 1` + "\n"
	if err := os.WriteFile(filepath.Join(root, ".env"), []byte(env), 0o600); err != nil {
		t.Fatal(err)
	}
	var log []string
	o := opts(root)
	o.Brokers = []string{"ibkr"}
	o.Reason = "halt; token " + reasonSecret
	o.Secrets = []string{reasonSecret}
	o.Log = func(s string) { log = append(log, s) }
	st, err := killswitch.Engage(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	flag, err := os.ReadFile(filepath.Join(root, killswitch.FlagFile))
	if err != nil {
		t.Fatal(err)
	}
	status, err := killswitch.Status(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	stJSON, _ := json.Marshal(st)
	statusJSON, _ := json.Marshal(status)
	texts := map[string]string{
		"log": strings.Join(log, "\n"), "state": string(stJSON), "flag file": string(flag),
		"status": string(statusJSON) + strings.Join(killswitch.Describe(status), "\n"),
		"audit":  queryString(t, root, `SELECT group_concat(detail, ' ') FROM audit_trail`),
	}
	for name, text := range texts {
		for _, s := range []string{pw, base64.StdEncoding.EncodeToString([]byte(pw)), "pin " + pin, reasonSecret} {
			if strings.Contains(text, s) {
				t.Errorf("%s holds %q:\n%s", name, s, text)
			}
		}
	}
	if !strings.Contains(string(flag), "IBKR_PASSWORD=[REDACTED]") {
		t.Errorf("flag file lacks the redacted cancel output:\n%s", flag)
	}

	// A flag file from before: the secret in clear.
	old := strings.ReplaceAll(string(flag), "[REDACTED]", pw)
	if err := os.WriteFile(filepath.Join(root, killswitch.FlagFile), []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	status, err = killswitch.Status(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	if d := strings.Join(killswitch.Describe(status), "\n"); strings.Contains(d, pw) || !strings.Contains(d, "[REDACTED]") {
		t.Errorf("status of an old flag file:\n%s", d)
	}
}
