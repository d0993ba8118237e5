#!/usr/bin/env bash
# bench/demo.sh: peak RSS and time of the sandbox generator (drbook demo)
# and of an unattended drill on a sandbox of the same size. Target: peak
# RSS under 100 MB (10^8 bytes) at any size; the ratio printed is to it.
#
#   bench/demo.sh                  # 1,000,000 trades (about 225 MiB)
#   TRADES=5000000 bench/demo.sh   # the 1 GB benchmark size
#   DRILL=0 bench/demo.sh          # the generator only
#   BASE=/path/to/old/drbook bench/demo.sh
#                                  # also run an older drbook's demo and
#                                  # compare peak RSS, time and the bytes
#
# GNU time reports the largest single process's peak: the drill's restore
# runs its integrity_check in a checker process of its own, reported
# separately by bench/backup.sh. Needs: go, GNU time (/usr/bin/time),
# sha256sum. Works in $BENCH_DIR (default /tmp/drbook-bench-demo).
set -euo pipefail

TRADES=${TRADES:-1000000}
W=${BENCH_DIR:-/tmp/drbook-bench-demo}
REPO=$(cd "$(dirname "$0")/.." && pwd)
TIME=/usr/bin/time
for bin in "$TIME" sha256sum; do
	command -v "$bin" >/dev/null || { echo "bench: $bin is not installed" >&2; exit 2; }
done

mkdir -p "$W"
cd "$REPO"
go build -o "$W/drbook" .

# measure NAME CMD...: run CMD under GNU time; print wall and CPU seconds
# (on a shared machine CPU time is the steadier figure), peak RSS and its
# ratio to 100 MB.
measure() {
	local name=$1
	shift
	"$TIME" -f "%e %U %S %M" -o "$W/time.$name" "$@" >"$W/out.$name" 2>&1 || {
		echo "bench: $name failed:" >&2
		tail -20 "$W/out.$name" >&2
		exit 1
	}
	read -r secs user sys kib <"$W/time.$name"
	awk -v n="$name" -v s="$secs" -v c="$user $sys" -v k="$kib" 'BEGIN {
		split(c, cpu, " ")
		printf "%-10s %7.1f s (%.1f s CPU)  peak RSS %6.1f MB (%d KiB)  ratio to 100 MB: %.2f\n",
			n, s, cpu[1] + cpu[2], k * 1024 / 1e6, k, k * 1024 / 1e8 }'
}

# tree ROOT: one hash per file of a sandbox, in path order.
tree() { (cd "$1" && find . -type f | LC_ALL=C sort | xargs sha256sum); }

echo "$TRADES trades, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"
rm -rf "$W/sys"
measure demo "$W/drbook" demo --trades "$TRADES" --root "$W/sys"
tree "$W/sys" >"$W/tree.new"
echo "data/quantai.db: $(stat -c %s "$W/sys/data/quantai.db") bytes, sha256 $(sha256sum <"$W/sys/data/quantai.db" | cut -c1-16)"

if [ -n "${BASE:-}" ]; then
	rm -rf "$W/base"
	measure demo-base "$BASE" demo --trades "$TRADES" --root "$W/base"
	tree "$W/base" >"$W/tree.base"
	if cmp -s "$W/tree.new" "$W/tree.base"; then
		echo "same bytes: every file of both sandboxes is identical"
	else
		echo "bytes differ:"
		diff "$W/tree.base" "$W/tree.new" || true
	fi
	rm -rf "$W/base"
fi

if [ "${DRILL:-1}" != 0 ]; then
	rm -rf "$W/state"
	measure drill "$W/drbook" drill --auto --trades "$TRADES" --state-dir "$W/state"
	grep -E '^drill .* (PASSED|FAILED)' "$W/out.drill" || true
fi
