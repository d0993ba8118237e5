package dns

import "github.com/drbook/drbook/steps"

// Registration of the dns-switch action; steps/all imports this package.
func init() {
	steps.Register(Action{})
}
