package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/runbook/site"
	"github.com/drbook/drbook/steps/notify"
	"github.com/drbook/drbook/steps/redact"
)

// unusable is a configured channel whose secret cannot be found: every
// attempt through it is a failed delivery that says where to put it.
type unusable struct{ name, kind, why string }

func (u unusable) Name() string { return u.name }
func (u unusable) Kind() string { return u.kind }
func (u unusable) Send(context.Context, notify.Message) (notify.Delivery, error) {
	return notify.Delivery{Channel: u.name, Kind: u.kind, Status: notify.StatusFailed, Reason: u.why, At: time.Now()},
		&notify.Error{Channel: u.name, Reason: u.why}
}

// siteSender builds the incident's Sender from the site configuration's
// notify section, with the secrets (webhook URLs, SMTP password) read from
// the system's .env (root), else the process environment. It also returns
// those secrets, for the incident's redactor. No channel configured gives
// a nil Sender: messages are recorded as not sent.
func siteSender(iox *IO, cfg *site.Config, root string) (incident.Sender, []string) {
	env := map[string]string{}
	if root != "" {
		if vars, err := redact.ReadEnvFile(filepath.Join(root, ".env")); err == nil {
			for _, v := range vars {
				env[v.Key] = v.Value
			}
		}
	}
	lookup := func(k string) string {
		if v := env[k]; v != "" {
			return v
		}
		return iox.Getenv(k)
	}
	var chans []notify.Channel
	for i, w := range cfg.Notify.Webhooks {
		name := w.Name
		if name == "" {
			name = fmt.Sprintf("webhook-%d", i+1)
		}
		u := lookup(w.URLEnv)
		if w.URLEnv == "" || u == "" {
			chans = append(chans, unusable{name, notify.KindWebhook, fmt.Sprintf("no webhook URL: %s is not set in the system's .env", orDash(w.URLEnv))})
			continue
		}
		chans = append(chans, &notify.Webhook{Channel: name, URL: notify.Secret(u)})
	}
	if s := cfg.Notify.SMTP; s != nil {
		chans = append(chans, smtpChannel(s, lookup))
	}
	if len(chans) == 0 {
		return nil, nil
	}
	secrets := notify.Secrets(chans)
	reminder := phoneReminder(cfg)
	send := func(ctx context.Context, msg notify.Message, only []string) []notify.Delivery {
		use := chans
		if only != nil {
			use = nil
			for _, c := range chans {
				for _, n := range only {
					if c.Name() == n {
						use = append(use, c)
					}
				}
			}
		}
		return notify.Deliver(ctx, msg, use, notify.Options{Reminder: reminder, Now: iox.Now})
	}
	return send, secrets
}

// phoneReminder names whom to call when a message did not go out: the
// primary on-call from the contacts, else the plan's fallback.
func phoneReminder(cfg *site.Config) string {
	for _, role := range []string{"Primary On-Call", "Secondary On-Call", "Operations Manager"} {
		if c, err := cfg.FindContact(role); err == nil && !site.IsPlaceholder(c.Phone) {
			return fmt.Sprintf("not sent: phone %s (%s) %s", c.Name, c.Role, c.Phone)
		}
	}
	return "not sent: phone the recipients (plan section 7)"
}

// deliveryLines prints deliveries one a line, reminders included.
func deliveryLines(ds []notify.Delivery) string {
	var b strings.Builder
	for _, d := range ds {
		b.WriteString("  " + d.String() + "\n")
	}
	return b.String()
}

// smtpChannel is the mail channel, or an unusable one when its password is
// named but not set.
func smtpChannel(s *site.SMTP, lookup func(string) string) notify.Channel {
	ch := &notify.SMTP{Channel: "mail", Host: s.Host, Port: s.Port, From: s.From, To: s.To, Username: s.Username}
	if s.StartTLS != nil && !*s.StartTLS {
		ch.AllowPlaintext = true
	}
	if s.PasswordEnv != "" {
		ch.PasswordFrom = "env:" + s.PasswordEnv
		p := lookup(s.PasswordEnv)
		if p == "" && s.Username != "" {
			return unusable{"mail", notify.KindSMTP, "no SMTP password: " + s.PasswordEnv + " is not set in the system's .env"}
		}
		ch.Password = notify.Secret(p)
	}
	return ch
}
