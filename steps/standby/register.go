package standby

import "github.com/drbook/drbook/steps"

// Register adds the standby-promote and standby-verify actions to r.
func Register(r *steps.Registry) {
	r.Register(Promote{})
	r.Register(Verify{})
}
