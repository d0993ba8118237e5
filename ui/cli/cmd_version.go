package cli

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
)

const versionUsage = `
Usage: drbook version

Print drbook's version, Go version and platform.

Exit codes: 0 always.
`

func runVersion(ctx context.Context, iox *IO, args []string) error {
	fs := newFlagSet("version", versionUsage, iox)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	v := Version
	if v == "dev" {
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
	}
	fmt.Fprintf(iox.Stdout, "drbook %s %s %s/%s\n", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}
