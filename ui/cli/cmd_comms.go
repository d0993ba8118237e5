package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/steps/notify"
)

const commsUsage = `
Usage: drbook comms [ID] --template notification|update [--record] [--to WHO]
                    [--json]
       drbook comms [ID] --template notification|update --send [--to WHO]
       drbook comms [ID] --retry

Fill one of the plan's communication templates (section 5.2) from incident
ID (default: the most recently active open incident, else the most recent
one): the incident notification, or the recovery status update with
progress (steps done or skipped of all steps), completed and remaining
actions, the estimated completion and the next update time (severity 1: 30
minutes, 2: 1 hour, 3: 4 hours).

Without --send or --record it only prints the message. --record adds it to
the timeline as sent by hand. --send records it and delivers it through
the site configuration's channels (notify.webhooks: Slack-compatible
webhooks; notify.smtp: mail over STARTTLS), recording every attempt (sent,
failed or not sent, and why). Delivery never blocks the incident: a
channel that is down is reported with whom to phone instead. --retry sends
the latest message again through the channels that did not deliver it.

Exit codes: 0 printed, recorded or sent everywhere; 1 a channel did not
deliver (the reminder says whom to phone), or the incident is closed;
2 usage error, unknown incident, unreadable state database.
`

func runComms(ctx context.Context, iox *IO, args []string) error {
	var so stateOptions
	var tmpl, to string
	var record, send, retry, asJSON bool
	fs := newFlagSet("comms", commsUsage, iox)
	so.AddFlags(fs)
	so.addOperator(fs)
	fs.StringVar(&tmpl, "template", "", "notification or update")
	fs.BoolVar(&record, "record", false, "record the message in the timeline as sent by hand")
	fs.BoolVar(&send, "send", false, "record and deliver through the site's channels")
	fs.BoolVar(&retry, "retry", false, "send the latest message again where it did not arrive")
	fs.StringVar(&to, "to", "", "with --record or --send: who it is for")
	fs.BoolVar(&asJSON, "json", false, "print JSON: template, subject, body (and deliveries)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return usageErr("comms: want at most one ID (run 'drbook comms --help')")
	}
	if (record && send) || (retry && (record || send)) {
		return usageErr("comms: --record, --send and --retry exclude each other")
	}
	if !retry && tmpl != "notification" && tmpl != "update" {
		return usageErr("comms: --template notification or --template update")
	}
	s, err := so.open("comms", iox, true)
	if err != nil {
		return err
	}
	defer s.Close()
	id, err := resolveID(ctx, "comms", iox, s, fs.Args())
	if err != nil {
		return err
	}
	var msg incident.Message
	switch {
	case send || retry:
		return sendComms(ctx, iox, s, &so, id, tmpl, to, retry, asJSON)
	case record:
		in, err := incident.Open(ctx, s, id, nil, incident.SystemClock{}, incident.OpenOptions{Operator: so.op(iox)})
		if err != nil {
			return incidentErr("comms", err)
		}
		if msg, err = in.Notify(tmpl, to); err != nil {
			return incidentErr("comms", err)
		}
	default:
		st, err := s.Load(ctx, id)
		if err != nil {
			return incidentErr("comms", err)
		}
		now := incident.Scaled(incident.SystemClock{}, st.Declaration.DeclaredAt, st.Declaration.Speed).Now()
		if msg, err = incident.Comms(st, tmpl, now); err != nil {
			return usageErr("%w", err)
		}
	}
	if asJSON {
		return writeJSON(iox.Stdout, msg)
	}
	_, err = io.WriteString(iox.Stdout, msg.Body)
	return err
}

// sendComms is comms --send and --retry: record, deliver, record each
// attempt, and exit 1 when a channel did not deliver.
func sendComms(ctx context.Context, iox *IO, s *incident.Store, so *stateOptions, id, tmpl, to string, retry, asJSON bool) error {
	cfg, err := iox.Site()
	if err != nil {
		return err
	}
	in, err := incident.Open(ctx, s, id, nil, incident.SystemClock{}, incident.OpenOptions{Operator: so.op(iox)})
	if err != nil {
		return incidentErr("comms", err)
	}
	root := cfg.Resolve(cfg.System.Root)
	if root == "" {
		root = in.State().Declaration.Root
	}
	sender, secrets := siteSender(iox, cfg, root)
	in.AddSecrets(secrets...)
	in.SetSender(sender)
	var msg incident.Message
	var ds []notify.Delivery
	if retry {
		msg, ds, err = in.Retry(ctx)
	} else {
		msg, ds, err = in.Send(ctx, tmpl, to)
	}
	if err != nil {
		return incidentErr("comms", err)
	}
	missed := len(notify.Outstanding(ds))
	if asJSON {
		if err := writeJSON(iox.Stdout, struct {
			Message    incident.Message  `json:"message"`
			Deliveries []notify.Delivery `json:"deliveries"`
		}{msg, ds}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(iox.Stdout, "%s: %s\n%s", msg.Template, msg.Subject, deliveryLines(ds))
	}
	if missed > 0 {
		return failed(fmt.Errorf("comms: %d of %d channel(s) did not deliver; 'drbook comms %s --retry' sends it again", missed, len(ds), id))
	}
	return nil
}
