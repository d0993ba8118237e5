package incident

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrNotClosed is returned for what only a closed incident allows (a
// sign-off: the record is accepted once it is complete).
var ErrNotClosed = errors.New("incident is still open")

// AddFinding records a remediation item with its owner and due date. It is
// allowed after the close: findings come out of the review.
func (in *Incident) AddFinding(text, owner string, due time.Time) (Finding, error) {
	text, owner = strings.TrimSpace(text), strings.TrimSpace(owner)
	switch {
	case text == "":
		return Finding{}, fmt.Errorf("finding: empty text")
	case owner == "":
		return Finding{}, fmt.Errorf("finding: no owner (every finding needs someone who fixes it)")
	case due.IsZero():
		return Finding{}, fmt.Errorf("finding: no due date")
	}
	var f Finding
	err := in.record(context.Background(), func(st *State) ([]Event, error) {
		f = Finding{ID: len(st.Findings) + 1, Text: text, Owner: owner, Due: due.Format(time.DateOnly)}
		return []Event{{Kind: KindFinding, At: in.clock.Now(), Data: EventData{Finding: &f}}}, nil
	})
	return f, err
}

// SignOff records that by (in role) reviewed the closed incident's record
// and accepts it.
func (in *Incident) SignOff(by, role, statement string) error {
	by = strings.TrimSpace(by)
	if by == "" {
		return fmt.Errorf("sign-off: no name")
	}
	return in.record(context.Background(), func(st *State) ([]Event, error) {
		if st.Status == StatusOpen {
			return nil, &Error{Err: ErrNotClosed, Detail: st.ID, Advice: "close it first ('drbook close'); a sign-off accepts the complete record"}
		}
		return []Event{{Kind: KindSignoff, At: in.clock.Now(), Data: EventData{Signoff: &Signoff{By: by,
			Role: strings.TrimSpace(role), Statement: strings.TrimSpace(statement)}}}}, nil
	})
}
