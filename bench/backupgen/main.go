// Command backupgen builds a drbook sandbox of a given size for
// bench/backup.sh when 'drbook demo' is not available.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/drbook/drbook/steps/sandbox"
)

func main() {
	trades := flag.Int("trades", 5_000_000, "trades to generate (5,000,000 is about 1 GB)")
	root := flag.String("root", "", "sandbox directory to create")
	flag.Parse()
	if *root == "" {
		fmt.Fprintln(os.Stderr, "usage: backupgen --root DIR [--trades N]")
		os.Exit(2)
	}
	if err := sandbox.Create(context.Background(), *root, sandbox.Options{Trades: *trades, Seed: 1}); err != nil {
		fmt.Fprintln(os.Stderr, "backupgen:", err)
		os.Exit(1)
	}
}
