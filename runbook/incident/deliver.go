package incident

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/drbook/drbook/steps/notify"
)

// Sender delivers a filled template through the site's notification
// channels (only the named ones when channels is not nil) and reports one
// delivery per channel. It never blocks past its own deadline and never
// fails the incident: a channel that is down is a delivery marked failed
// or not-sent, with the reminder of whom to phone.
type Sender func(ctx context.Context, msg notify.Message, channels []string) []notify.Delivery

// DeliveryEntry is one delivery attempt as recorded in the timeline.
type DeliveryEntry struct {
	notify.Delivery
	Template string `json:"template"`
	Subject  string `json:"subject"`
	// CommsAt is when the message was filled (its comms event): attempts
	// of one message share it, a retry included.
	CommsAt time.Time `json:"comms_at"`
}

// SetSender gives the incident its notification channels; without one,
// Send records the message as not sent.
func (in *Incident) SetSender(s Sender) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.sender = s
}

// noChannels is the delivery recorded when the site has no channel.
func noChannels(now time.Time) []notify.Delivery {
	return []notify.Delivery{{Channel: "none", Kind: "none", Status: notify.StatusNotSent, At: now,
		Reason:   "no channels configured (site configuration, notify:)",
		Reminder: "send it by hand"}}
}

// Send fills template, records it (as Notify does), delivers it through
// the sender and records every attempt. The deliveries come back for the
// caller to show; one that did not arrive carries its reminder.
func (in *Incident) Send(ctx context.Context, template, to string) (Message, []notify.Delivery, error) {
	msg, err := in.Notify(template, to)
	if err != nil {
		return Message{}, nil, err
	}
	ds, err := in.deliver(ctx, msg, nil)
	return msg, ds, err
}

// Retry sends the latest message again through the channels that did not
// deliver it, and records the attempts. It is an error when every channel
// delivered it already, or nothing was ever sent.
func (in *Incident) Retry(ctx context.Context) (Message, []notify.Delivery, error) {
	st := in.State()
	if len(st.Comms) == 0 {
		return Message{}, nil, fmt.Errorf("retry: nothing was sent yet (drbook comms ID --send)")
	}
	msg := st.Comms[len(st.Comms)-1]
	last := map[string]notify.Delivery{}
	for _, d := range st.Deliveries {
		if d.CommsAt.Equal(msg.At) {
			last[d.Channel] = d.Delivery
		}
	}
	var names []string
	for name, d := range last {
		if !d.Delivered() && name != "none" {
			names = append(names, name)
		}
	}
	if len(last) > 0 && len(names) == 0 {
		if _, none := last["none"]; !none {
			return msg, nil, fmt.Errorf("retry: %q reached every channel already", msg.Subject)
		}
	}
	ds, err := in.deliver(ctx, msg, names)
	return msg, ds, err
}

func (in *Incident) deliver(ctx context.Context, msg Message, only []string) ([]notify.Delivery, error) {
	in.mu.Lock()
	send := in.sender
	in.mu.Unlock()
	st := in.State()
	nm := notify.Message{Subject: msg.Subject, Body: msg.Body, Severity: st.Severity, IncidentID: st.ID,
		Drill: st.Declaration.Mode == Drill}
	var ds []notify.Delivery
	if send != nil {
		ds = send(ctx, nm, only)
	}
	if len(ds) == 0 {
		ds = noChannels(in.clock.Now())
	}
	err := in.record(context.WithoutCancel(ctx), func(st *State) ([]Event, error) {
		evs := make([]Event, 0, len(ds))
		for i := range ds {
			d := ds[i]
			d.Reason, d.Detail, d.Reminder = in.redact.string(d.Reason), in.redact.string(d.Detail), in.redact.string(d.Reminder)
			for j, r := range d.Recipients {
				d.Recipients[j] = in.redact.string(r)
			}
			ds[i] = d
			e := DeliveryEntry{Delivery: d, Template: msg.Template, Subject: msg.Subject, CommsAt: msg.At}
			evs = append(evs, Event{Kind: KindDelivery, At: in.clock.Now(), Data: EventData{Delivery: &e}})
		}
		return evs, nil
	})
	return ds, err
}

// DeliverySummary is one line about a message's deliveries for a step's
// result: "sent via slack, mail" or "NOT SENT via slack (offline): phone...".
func DeliverySummary(ds []notify.Delivery) string {
	if len(ds) == 1 && ds[0].Channel == "none" {
		return "NOT SENT: no channels configured; send it by hand"
	}
	var sent, missed []string
	reminder := ""
	for _, d := range ds {
		if d.Delivered() {
			sent = append(sent, d.Channel)
			continue
		}
		missed = append(missed, fmt.Sprintf("%s (%s: %s)", d.Channel, d.Status, d.Reason))
		if reminder == "" {
			reminder = d.Reminder
		}
	}
	var parts []string
	if len(sent) > 0 {
		parts = append(parts, "sent via "+strings.Join(sent, ", "))
	}
	if len(missed) > 0 {
		s := "NOT SENT via " + strings.Join(missed, "; ")
		if reminder != "" {
			s += "; " + reminder
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}
