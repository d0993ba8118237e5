package killswitch

import (
	"os"
	"path/filepath"

	"github.com/drbook/drbook/steps/redact"
)

// Configuration keys, read from the runbook's variables, then the process
// environment, then the system's .env file.
const (
	// KeyAlpacaBaseURL is the Alpaca trading API base URL, for example
	// https://paper-api.alpaca.markets. Without it Alpaca is not called.
	KeyAlpacaBaseURL = "ALPACA_BASE_URL"
	// KeyAlpacaKey and KeyAlpacaSecret are sent as APCA-API-KEY-ID and
	// APCA-API-SECRET-KEY. Their values are never printed or recorded.
	KeyAlpacaKey    = "ALPACA_API_KEY"
	KeyAlpacaSecret = "ALPACA_SECRET_KEY"
	// KeyIBKRCommand is a command (run with bash) that cancels every open
	// IBKR order, for example a script using the TWS API's reqGlobalCancel.
	// It exits 0 on success; its output is recorded.
	KeyIBKRCommand = "IBKR_CANCEL_COMMAND"
	// KeyBrokers names the brokers to call when the request names none.
	KeyBrokers = "DRBOOK_KILL_SWITCH_BROKERS"
)

// config looks keys up in order: explicit variables, the environment,
// the root's .env file.
type config struct {
	root       string
	secretKeys []string // .env keys whose values are secret
	vars       map[string]string
	getenv     func(string) string
	dotenv     map[string]string
}

func newConfig(root string, vars map[string]string, getenv func(string) string) *config {
	if getenv == nil {
		getenv = os.Getenv
	}
	return &config{root: root, secretKeys: redact.SecretKeys(root), vars: vars, getenv: getenv, dotenv: readDotenv(filepath.Join(root, ".env"))}
}

func (c *config) get(key string) string {
	if v := c.vars[key]; v != "" {
		return v
	}
	if v := c.getenv(key); v != "" {
		return v
	}
	return c.dotenv[key]
}

// secrets are the values that must never appear in anything printed,
// returned or written: the broker keys, the secret values of the root's
// .env (every value unless its key is allowlisted, see package redact)
// and whatever the variables or the environment give for those keys.
func (c *config) secrets() []string {
	var out []string
	for _, k := range append([]string{KeyAlpacaKey, KeyAlpacaSecret}, c.secretKeys...) {
		if v := c.get(k); v != "" {
			out = append(out, v)
		}
		if v := c.dotenv[k]; v != "" {
			out = append(out, v)
		}
	}
	return append(out, redact.RootSecrets(c.root)...)
}

// readDotenv reads the root's .env with drbook's one parser; a missing or
// unreadable file is empty.
func readDotenv(path string) map[string]string {
	m, err := redact.ReadEnv(path)
	if err != nil {
		return map[string]string{}
	}
	return m
}
