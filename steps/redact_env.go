package steps

import "github.com/drbook/drbook/steps/redact"

// SecretValues returns every value an action must redact: e.Secrets, the
// secret values of the root's .env (redact.RootSecrets), and the values
// e.Vars gives for those .env keys, so that an action run outside the
// incident engine (straight from the command line) redacts as much as one
// run by it.
func (e Env) SecretValues() []string {
	out := append([]string(nil), e.Secrets...)
	out = append(out, redact.RootSecrets(e.Root)...)
	for _, k := range redact.SecretKeys(e.Root) {
		if v := e.Vars[k]; v != "" && !redact.PublicValue(v) {
			out = append(out, v)
		}
	}
	return out
}

// Redactor returns drbook's redactor for everything e.SecretValues names.
func (e Env) Redactor() *redact.Redactor { return redact.New(e.SecretValues()...) }
