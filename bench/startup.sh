#!/usr/bin/env bash
# bench/startup.sh: where drbook's start-up time goes. Runs
# `GODEBUG=inittrace=1 drbook version` RUNS times and prints the median
# package-initialisation time (the work Go does before main, for every
# command) by group, then the start-up benchmarks of ui/e2e: `drbook
# version`, `note` and `step` from exec to exit, and the first frame of
# `drbook resume` on the plan and on a runbook of 2,000 sections.
#
#   bench/startup.sh            # 21 runs each
#   RUNS=51 bench/startup.sh
#
# Needs: go. Numbers on a machine shared with other work vary: compare
# medians taken in the same run.
set -euo pipefail

RUNS=${RUNS:-21}
REPO=$(cd "$(dirname "$0")/.." && pwd)
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
cd "$REPO"
CGO_ENABLED=0 go build -o "$W/drbook" .

for i in $(seq "$RUNS"); do
	GODEBUG=inittrace=1 "$W/drbook" version 2>&1 >/dev/null | awk '
		/^init / {
			ms = $5; total += ms
			if ($2 ~ /alecthomas\/chroma/) chroma += ms
			else if ($2 ~ /bluemonday|gorilla\/css|goldmark|glamour/) glamour += ms
			else if ($2 ~ /aws/) aws += ms
			else if ($2 ~ /drbook\/drbook/) own += ms
			else other += ms
		}
		END { printf "%.2f %.2f %.2f %.2f %.2f %.2f\n", total, chroma, glamour, aws, own, other }'
done >"$W/inits"

# median COLUMN: the median of one column of $W/inits.
median() { cut -d' ' -f"$1" "$W/inits" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

echo "package initialisation before main, median of $RUNS runs (ms of clock):"
printf '  %-58s %6s\n' "all packages" "$(median 1)"
printf '  %-58s %6s\n' "chroma (glamour's highlighter; registries built on first use)" "$(median 2)"
printf '  %-58s %6s\n' "glamour's other dependencies (bluemonday, css, goldmark)" "$(median 3)"
printf '  %-58s %6s\n' "AWS SDK (S3 backups)" "$(median 4)"
printf '  %-58s %6s\n' "drbook's own packages" "$(median 5)"
printf '  %-58s %6s\n' "everything else" "$(median 6)"
echo

go test ./ui/e2e -run XXX -bench Startup -benchtime "${RUNS}x" | grep -E 'Benchmark|ok|FAIL'
