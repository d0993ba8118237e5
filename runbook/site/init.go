package site

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"text/template"

	"github.com/drbook/drbook/steps/system"
)

// Survey is what Init found on the system it looked at.
type Survey struct {
	Root        string
	Sandbox     bool     // the root is a drbook sandbox (marker file present)
	HasDB       bool     // data/quantai.db exists
	EnvKeys     []string // keys of .env, never values
	BackupDirs  []string // existing folders that look like backup locations
	Statements  map[string]string
	Passphrase  string // a passphrase file found
	ExistingCfg string // a configuration file already in place, if any
}

// SurveySystem looks at a QuantAI root for Init: its database, the keys
// (not the values) of its .env, backup folders and broker statements.
func SurveySystem(root string) (Survey, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return Survey{}, err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return Survey{}, fmt.Errorf("init: %w", err)
	}
	if !fi.IsDir() {
		return Survey{}, fmt.Errorf("init: %s is not a folder", abs)
	}
	s := Survey{Root: abs, Statements: map[string]string{}}
	if _, err := os.Stat(filepath.Join(abs, ".drbook-sandbox")); err == nil {
		s.Sandbox = true
	}
	if _, err := os.Stat(system.DB(abs)); err == nil {
		s.HasDB = true
	}
	if b, err := os.ReadFile(system.Env(abs)); err == nil {
		for _, line := range strings.Split(string(bytes.TrimPrefix(b, []byte("\ufeff"))), "\n") {
			line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "export "))
			if k, _, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") && envName.MatchString(strings.TrimSpace(k)) {
				s.EnvKeys = append(s.EnvKeys, strings.TrimSpace(k))
			}
		}
		sort.Strings(s.EnvKeys)
	}
	for _, d := range []string{filepath.Join(abs, "backups"), "/backups/quantai"} {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			s.BackupDirs = append(s.BackupDirs, d)
		}
	}
	for name, rel := range map[string]string{"ibkr": "brokers/ibkr_positions.csv", "alpaca": "brokers/alpaca_positions.json"} {
		if _, err := os.Stat(filepath.Join(abs, rel)); err == nil {
			s.Statements[name] = filepath.Join(abs, rel)
		}
	}
	for _, p := range []string{filepath.Join(abs, "config", "backup.pass"), "/etc/drbook/backup.pass"} {
		if _, err := os.Stat(p); err == nil {
			s.Passphrase = p
			break
		}
	}
	return s, nil
}

func (s Survey) hasKey(k string) bool {
	i := sort.SearchStrings(s.EnvKeys, k)
	return i < len(s.EnvKeys) && s.EnvKeys[i] == k
}

// Init writes a commented starting configuration for the surveyed system.
// Contacts are left as the plan's placeholders on purpose: `drbook config
// check` flags them until someone fills them in.
func Init(s Survey) []byte {
	var b bytes.Buffer
	data := map[string]any{
		"S":         s,
		"Live":      !s.Sandbox,
		"BackupDir": firstOr(s.BackupDirs, filepath.Join(s.Root, "backups")),
		"IBKR":      s.Statements["ibkr"],
		"Alpaca":    s.Statements["alpaca"],
		"Webhook":   s.hasKey("SLACK_WEBHOOK_URL"),
	}
	if err := initTemplate().Execute(&b, data); err != nil {
		panic(err) // the template is fixed; a failure is a bug caught by the tests
	}
	return b.Bytes()
}

func firstOr(xs []string, d string) string {
	if len(xs) > 0 {
		return xs[0]
	}
	return d
}

// initTemplate is parsed on first use: every command links this package,
// and only 'drbook init' writes a file.
var initTemplate = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("init").Parse(initText))
})

const initText = `# drbook site configuration, written by 'drbook init' for {{.S.Root}}.
# Check it with 'drbook config check'; see what drbook uses with 'drbook config'.
# Flags override anything here. This file names where secrets are; it never
# holds them.

system:
  root: {{.S.Root}}
{{- if .S.Sandbox}}
  # This root is a drbook sandbox: commands treat it as a drill.
  live: false
{{- else}}
  # live: true makes commands act on this root for real (restore, kill switch).
  live: {{.Live}}
{{- end}}
{{- if not .S.HasDB}}
  # No data/quantai.db was found under the root: check the path.
{{- end}}

backup:
  dirs:
    - {{.BackupDir}}
  # s3:
  #   url: s3://quantai-backups/prod
  #   endpoint: ""          # an S3-compatible server; empty for AWS
  #   region: us-east-1
  #   path_style: false
  # A file holding the archive passphrase, mode 0600.
{{- if .S.Passphrase}}
  passphrase_file: {{.S.Passphrase}}
{{- else}}
  # passphrase_file: /etc/drbook/backup.pass
{{- end}}

brokers:
  ibkr:
{{- if .IBKR}}
    statement: {{.IBKR}}
{{- else}}
    # statement: /srv/quantai/brokers/ibkr_positions.csv   # Flex Query or Activity Statement CSV
{{- end}}
    # api: https://localhost:5000/v1/api   # Client Portal gateway
    # insecure_tls: true                   # the gateway's self-signed certificate
  alpaca:
{{- if .Alpaca}}
    statement: {{.Alpaca}}
{{- else}}
    # statement: /srv/quantai/brokers/alpaca_positions.json
{{- end}}
    # api: https://paper-api.alpaca.markets   # keys come from .env

# The plan's section 7. Fill in every [placeholder]; 'drbook config check'
# reports placeholders, missing roles and contacts not verified within max_age.
contacts:
  max_age: 90d
  people:
    - {role: Primary On-Call, name: "[Name]", phone: "[Phone]", email: "[Email]"}
    - {role: Secondary On-Call, name: "[Name]", phone: "[Phone]", email: "[Email]"}
    - {role: Technical Lead, name: "[Name]", phone: "[Phone]", email: "[Email]"}
    - {role: Operations Manager, name: "[Name]", phone: "[Phone]", email: "[Email]"}
    - {role: IBKR Support, name: IBKR Support, phone: "+1-877-442-2757"}
    - {role: Alpaca Support, name: Alpaca Support, email: support@alpaca.markets}

# on_call:
#   - {name: "[Name]", role: primary, from: 2026-12-01, until: 2026-12-07}

notify:
  webhooks:
{{- if .Webhook}}
    - {name: slack, url_env: SLACK_WEBHOOK_URL}
{{- else}}
    # - {name: slack, url_env: SLACK_WEBHOOK_URL}   # the URL lives in .env
{{- end}}
  # smtp:
  #   host: smtp.example.com
  #   port: 587
  #   from: drbook@example.com
  #   to: [ops@example.com]
  #   username: drbook
  #   password_env: SMTP_PASSWORD   # the password lives in .env

# Drill evidence is signed with an ed25519 key: drbook evidence keygen -o FILE
# evidence:
#   signing_key: /etc/drbook/evidence.key
#   public_key: /etc/drbook/evidence.key.pub

# The standby site and drbook watch (see docs/failover.md)
# failover:
#   secondary: /srv/quantai-secondary   # kept warm by drbook standby sync
#   automatic: false     # true: drbook watch runs site-failover unattended
#   lb_hook: /usr/local/bin/lb-to-secondary
#   dns:
#     zone: quantai.example
#     record: trading.quantai.example
#     secondary: 10.0.2.20
#     ttl: 60
#   health:
#     heartbeat_max_age: 2m   # age of logs/heartbeat
#     quick_check: true
#     # http: https://trading.quantai.example/health
#     interval: 30s
#     failures: 3

state:
  # dir: /var/lib/drbook
  # s3: s3://quantai-drbook-state/incidents   # the replicated timeline
`
