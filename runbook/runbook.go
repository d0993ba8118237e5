package runbook

import (
	"regexp"
	"strings"
)

// Step finds a step by id, with its phase; nil, nil when there is none.
func (rb *Runbook) Step(id string) (*Phase, *Step) {
	for _, ph := range rb.Phases {
		for _, st := range ph.Steps {
			if st.ID == id {
				return ph, st
			}
		}
	}
	return nil, nil
}

// Phase finds a phase by id; nil when there is none.
func (rb *Runbook) Phase(id string) *Phase {
	for _, ph := range rb.Phases {
		if ph.ID == id {
			return ph
		}
	}
	return nil
}

// StepCount is the number of steps in all phases.
func (rb *Runbook) StepCount() int {
	n := 0
	for _, ph := range rb.Phases {
		n += len(ph.Steps)
	}
	return n
}

// RTOStop returns the phase whose completion stops the RTO clock: the
// phase named by rto_phase, else the last phase with a window that ends at
// or before the RTO, else nil (the RTO clock runs until the incident is
// resolved).
func (rb *Runbook) RTOStop() *Phase {
	if rb.RTOPhase != "" {
		return rb.Phase(rb.RTOPhase)
	}
	if rb.Objectives.RTO == 0 {
		return nil
	}
	var best *Phase
	for _, ph := range rb.Phases {
		if ph.Window.Set && !ph.Window.Deadline && ph.Window.End <= rb.Objectives.RTO {
			if best == nil || ph.Window.End >= best.Window.End {
				best = ph
			}
		}
	}
	return best
}

// Expand replaces $NAME and ${NAME} in s with values from vars; names not
// in vars are left as written. ${NAME:-default} uses the default when NAME
// is unset or empty.
func Expand(s string, vars map[string]string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	return expandRE.ReplaceAllStringFunc(s, func(m string) string {
		sub := expandRE.FindStringSubmatch(m)
		switch {
		case sub[1] != "":
			if v, ok := vars[sub[1]]; ok && (v != "" || sub[2] == "") {
				return v
			}
			if sub[2] != "" {
				return sub[3]
			}
		case sub[4] != "":
			if v, ok := vars[sub[4]]; ok {
				return v
			}
		}
		return m
	})
}

var expandRE = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)`)

// ExpandParams returns a drbook block's parameters with runbook variables
// expanded; run actions with these, not the raw Params.
func (b *Block) ExpandParams(vars map[string]string) map[string]string {
	out := make(map[string]string, len(b.Params))
	for k, v := range b.Params {
		out[k] = Expand(v, vars)
	}
	return out
}
