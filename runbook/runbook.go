package runbook

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
