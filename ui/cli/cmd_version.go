package cli

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Commit and BuildDate are stamped by release builds (.ci/release) with
// -ldflags "-X github.com/drbook/drbook/ui/cli.Commit=... -X
// github.com/drbook/drbook/ui/cli.BuildDate=...", like Version. An
// unstamped build falls back to what the Go toolchain recorded from git.
var (
	Commit    = ""
	BuildDate = ""
)

const versionUsage = `
Usage: drbook version [--json]

Print drbook's version, the commit it was built from, the build date, the
Go version and the platform. Release builds have them stamped in; a build
from a git checkout reports the checkout's commit and commit time instead.
Compare the commit with the release's before trusting a copied binary.

Exit codes: 0 printed; 2 usage error.
`

// BuildInfo is what drbook version reports.
type BuildInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`               // "" when unknown
	Date      string `json:"date"`                 // RFC 3339; "" when unknown
	Modified  bool   `json:"modified,omitempty"`   // built from a checkout with uncommitted changes
	GoVersion string `json:"go_version"`           // the toolchain that built it
	Platform  string `json:"platform"`             // GOOS/GOARCH
	Source    string `json:"source"`               // "stamped" (release build) or "vcs" (git metadata) or "none"
	Module    string `json:"module_sum,omitempty"` // go.sum hash when installed with go install
}

// Build returns this binary's build information: the stamped values, else
// the version control information the Go toolchain recorded.
func Build() BuildInfo {
	b := BuildInfo{Version: Version, Commit: Commit, Date: BuildDate, GoVersion: runtime.Version(),
		Platform: runtime.GOOS + "/" + runtime.GOARCH, Source: "stamped"}
	if b.Commit != "" {
		return b
	}
	b.Source = "none"
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	return fromBuildInfo(b, bi)
}

// fromBuildInfo fills b from the module and version control information
// the Go toolchain recorded in the binary.
func fromBuildInfo(b BuildInfo, bi *debug.BuildInfo) BuildInfo {
	if v := bi.Main.Version; b.Version == "dev" && v != "" && v != "(devel)" {
		b.Version = v
		b.Module = bi.Main.Sum
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Commit, b.Source = s.Value, "vcs"
		case "vcs.time":
			if b.Date == "" {
				b.Date = s.Value
			}
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
}

func runVersion(ctx context.Context, iox *IO, args []string) error {
	fs := newFlagSet("version", versionUsage, iox)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("version: unexpected argument %q (run 'drbook version --help')", fs.Arg(0))
	}
	b := Build()
	if *asJSON {
		return printJSON(iox.Stdout, b)
	}
	var extra []string
	if b.Commit != "" {
		c := b.Commit
		if b.Modified {
			c += ", modified"
		}
		extra = append(extra, "commit "+c)
	}
	if b.Date != "" {
		extra = append(extra, "built "+b.Date)
	}
	line := "drbook " + b.Version
	if len(extra) > 0 {
		line += " (" + strings.Join(extra, ", ") + ")"
	}
	fmt.Fprintf(iox.Stdout, "%s %s %s\n", line, b.GoVersion, b.Platform)
	return nil
}
