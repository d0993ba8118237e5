#!/usr/bin/env bash
# bench/check.sh: time `drbook check` (quick) against the sqlite3 CLI running
# PRAGMA quick_check, foreign_key_check and the same counts and validation
# queries, on a large sandbox. Prints both times and the ratio (target: at
# most 1.5).
#
#   bench/check.sh [ROOT]      use an existing sandbox (left in place)
#   TRADES=5000000 bench/check.sh   build one in /tmp (about 1.2 GB), deleted afterwards
#   RUNS=3                      timed runs of each (best is kept)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
TRADES=${TRADES:-5000000}
work=$(mktemp -d /tmp/drbook-bench-check.XXXXXX)
trap 'rm -rf "$work"' EXIT
go build -o "$work/drbook" .
root=${1:-}
if [ -z "$root" ]; then
  root=$work/sandbox
  echo "building a sandbox with $TRADES trades in $root ..."
  /usr/bin/time -f "generation: %e s, peak RSS %M KB" "$work/drbook" demo --root "$root" --trades "$TRADES" >/dev/null
fi
db=$root/data/quantai.db
ls -l "$db"

# The statements drbook check runs (checks/db.go), in the same order.
cat > "$work/check.sql" <<'SQL'
PRAGMA quick_check;
PRAGMA foreign_key_check;
SELECT COUNT(*) FROM "trades";
SELECT COUNT(*) FROM "positions";
SELECT COUNT(*) FROM "audit_trail";
SELECT COUNT(*) FROM "accounts";
SELECT COUNT(*) FROM trades t
        LEFT JOIN positions p ON t.position_id = p.id
        WHERE p.id IS NULL;
SELECT COUNT(*) FROM accounts
        WHERE balance < 0 AND account_type != 'margin';
SELECT COUNT(*) FROM (
            SELECT id, LAG(id) OVER (ORDER BY timestamp) as prev_id
            FROM audit_trail
        ) WHERE id - prev_id > 1;
SELECT COUNT(*) FROM positions p
        LEFT JOIN (SELECT position_id, SUM(quantity) AS q FROM trades NOT INDEXED WHERE status = 'filled' GROUP BY position_id) s
        ON s.position_id = p.id WHERE abs(p.quantity - coalesce(s.q, 0)) > 1e-6;
SELECT COUNT(*) FROM trades WHERE status = 'pending';
SELECT COUNT(*) FROM orders WHERE status IN ('open', 'pending');
SELECT broker, symbol, quantity, avg_price FROM positions WHERE quantity != 0 ORDER BY broker, symbol;
SELECT COUNT(*) FROM positions WHERE quantity != 0;
SQL

now() { date +%s.%N; }
best_sqlite=999999
best_drbook=999999
# Warm the page cache once so both read from memory.
cat "$db" > /dev/null
for i in $(seq "$RUNS"); do
  t0=$(now)
  /usr/bin/time -o "$work/sqlite.cpu" -f "%U %S" sqlite3 "file:$db?mode=ro&immutable=1" < "$work/check.sql" > "$work/sqlite.out"
  t1=$(now)
  /usr/bin/time -o "$work/drbook.cpu" -f "%U %S" "$work/drbook" check --root "$root" --only db-integrity,critical-tables,data-validation,config > "$work/drbook.out" || true
  t2=$(now)
  s=$(echo "$t1 - $t0" | bc -l); d=$(echo "$t2 - $t1" | bc -l)
  sc=$(awk '{print $1 + $2}' "$work/sqlite.cpu"); dc=$(awk '{print $1 + $2}' "$work/drbook.cpu")
  printf 'run %d: sqlite3 %.2f s (cpu %.2f s), drbook check %.2f s (cpu %.2f s, on up to 3 cores)\n' "$i" "$s" "$sc" "$d" "$dc"
  best_sqlite=$(echo "if ($s < $best_sqlite) $s else $best_sqlite" | bc -l)
  best_drbook=$(echo "if ($d < $best_drbook) $d else $best_drbook" | bc -l)
done
head -1 "$work/sqlite.out"
tail -1 "$work/drbook.out"
printf 'best: sqlite3 %.2f s, drbook check %.2f s, ratio %.2f (target <= 1.5)\n' \
  "$best_sqlite" "$best_drbook" "$(echo "$best_drbook / $best_sqlite" | bc -l)"
