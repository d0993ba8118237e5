package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/steps"
)

const validateUsage = `
Usage: drbook validate [PATH|ID]... [--runbooks DIR]... [--json]

Check runbooks and report every problem at once, each as file:line, what
is wrong, and a hint: malformed front matter, unterminated code fences,
unknown actions, parameters or attributes, destructive actions or
data-changing SQL without confirm=true, duplicate ids, inverted or
overlapping phase windows, variables used but not declared.

PATH is a Markdown file or a folder (every *.md directly inside it); ID is
an embedded runbook or one in a --runbooks folder. With no argument,
every runbook drbook knows is checked.

Exit codes: 0 all valid; 1 problems found (a file that is not a Markdown
runbook at all — binary, not UTF-8, over 10 MiB or 50,000 lines, nested
more than 32 deep — is a problem too); 2 usage error, or a path that does
not exist or cannot be read.
`

type validateResult struct {
	File     string        `json:"file"`
	ID       string        `json:"id,omitempty"`
	Valid    bool          `json:"valid"`
	Problems []problemJSON `json:"problems"`
	Error    string        `json:"error,omitempty"` // the file could not be read
}

type problemJSON struct {
	File string `json:"file"`
	Line int    `json:"line"`
	Msg  string `json:"message"`
	Hint string `json:"hint,omitempty"`
}

func runValidate(ctx context.Context, iox *IO, args []string) error {
	var o runbookOptions
	fs := newFlagSet("validate", validateUsage, iox)
	o.AddFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var results []validateResult
	check := func(file string, rb *runbook.Runbook, err error) {
		r := validateResult{File: file, Problems: []problemJSON{}}
		var ps runbook.Problems
		switch {
		case err == nil:
			r.ID = rb.ID
			ps = rb.Validate(steps.Catalog{})
		case errors.As(err, &ps):
		default:
			r.Error = err.Error()
		}
		for _, p := range ps {
			r.Problems = append(r.Problems, problemJSON{File: p.File, Line: p.Line, Msg: p.Msg, Hint: p.Hint})
		}
		r.Valid = r.Error == "" && len(r.Problems) == 0
		results = append(results, r)
	}
	targets := fs.Args()
	// validate "$FILE" with FILE unset would validate the default runbook
	// and say "ok" about a file nobody checked.
	for _, t := range targets {
		if strings.TrimSpace(t) == "" {
			return usageErr("validate: an empty argument (an unset variable?)")
		}
	}
	if len(targets) == 0 {
		rbs, err := runbook.List(o.dirs)
		for _, rb := range rbs {
			check(rb.Source, rb, nil)
		}
		if err != nil {
			// List joins the parse errors of broken files; report each.
			for _, e := range unjoin(err) {
				var ps runbook.Problems
				if errors.As(e, &ps) && len(ps) > 0 {
					check(ps[0].File, nil, e)
				} else {
					check("", nil, e)
				}
			}
		}
	}
	for _, t := range targets {
		st, statErr := os.Stat(t)
		switch {
		case statErr == nil && st.IsDir():
			ents, err := os.ReadDir(t)
			if err != nil {
				check(t, nil, err)
				continue
			}
			n := 0
			for _, e := range ents {
				if e.IsDir() || !strings.HasSuffix(strings.ToLower(e.Name()), ".md") {
					continue
				}
				n++
				p := strings.TrimSuffix(t, "/") + "/" + e.Name()
				rb, err := runbook.ReadFile(p)
				check(p, rb, err)
			}
			if n == 0 {
				check(t, nil, errors.New("folder holds no .md files"))
			}
		case statErr == nil:
			rb, err := runbook.ReadFile(t)
			check(t, rb, err)
		default:
			rb, err := runbook.Load(t, o.dirs)
			if errors.Is(err, runbook.ErrNotFound) {
				err = fmt.Errorf("%s: no such file, folder or runbook id", t)
			}
			check(t, rb, err)
		}
	}

	unreadable, invalid := 0, 0
	for _, r := range results {
		if r.Error != "" {
			unreadable++
		} else if !r.Valid {
			invalid++
		}
	}
	if o.json {
		if err := writeJSON(iox.Stdout, struct {
			Valid    bool             `json:"valid"`
			Runbooks []validateResult `json:"runbooks"`
		}{unreadable == 0 && invalid == 0, results}); err != nil {
			return err
		}
	} else {
		for _, r := range results {
			switch {
			case r.Error != "":
				fmt.Fprintf(iox.Stdout, "%s: cannot read: %s\n", r.File, r.Error)
			case r.Valid:
				fmt.Fprintf(iox.Stdout, "%s: ok\n", r.File)
			default:
				for _, p := range r.Problems {
					fmt.Fprintf(iox.Stdout, "%s:%d: %s\n", p.File, p.Line, p.Msg)
					if p.Hint != "" {
						fmt.Fprintf(iox.Stdout, "    hint: %s\n", p.Hint)
					}
				}
			}
		}
	}
	switch {
	case unreadable > 0:
		return &ExitError{Code: ExitUsage, Err: fmt.Errorf("validate: %s of %d could not be read", plural(unreadable, "runbook"), len(results))}
	case invalid > 0:
		n := 0
		for _, r := range results {
			n += len(r.Problems)
		}
		return failed(fmt.Errorf("validate: %s in %s of %d", plural(n, "problem"), plural(invalid, "runbook"), len(results)))
	}
	return nil
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// loadErr maps a runbook.Load error to an exit code: a runbook that does
// not parse is a problem (1); one that cannot be found or read is a usage
// error (2).
func loadErr(cmd string, err error) error {
	var ps runbook.Problems
	if errors.As(err, &ps) {
		return failed(fmt.Errorf("%s: %w", cmd, err))
	}
	return usageErr("%s: %w", cmd, err) // Main prints a not-found runbook's hint
}
