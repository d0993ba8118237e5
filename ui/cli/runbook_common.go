package cli

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/pflag"
)

// runbookOptions are the flags list, show and validate share.
type runbookOptions struct {
	dirs []string
	json bool
}

func (o *runbookOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringArrayVar(&o.dirs, "runbooks", nil, "folder of extra runbooks, searched before the embedded ones (repeatable)")
	fs.BoolVar(&o.json, "json", false, "print JSON for scripts")
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// JSON shapes. Durations are whole seconds.

// plural says "1 problem" or "2 problems".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
