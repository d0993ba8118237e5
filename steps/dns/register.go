package dns

import "github.com/drbook/drbook/steps"

// Register adds the dns-switch action to r.
func Register(r *steps.Registry) { r.Register(Action{}) }
