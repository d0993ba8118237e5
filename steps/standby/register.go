package standby

import "github.com/drbook/drbook/steps"

// Registration of the standby-promote and standby-verify actions;
// steps/all imports this package.
func init() {
	steps.Register(Promote{})
	steps.Register(Verify{})
}
