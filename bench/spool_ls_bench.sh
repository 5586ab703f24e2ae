#!/usr/bin/env bash
# bench/spool_ls_bench.sh - how fast smtpsink-spool answers on a spool of
# one million small messages (issue 6: "well under a second").
#
# Usage: bench/spool_ls_bench.sh [BUILD_DIR]      (default: build)
# Environment: MESSAGES (1000000), SHARDS (2), SEGMENT_BYTES (268435456,
#   the server's default), OPEN_LAST (1: the last segment of each shard is
#   left open, as on a running server; 0: all sealed), RUNS (5),
#   SPOOL (a temporary directory, removed at the end).
# The spool is written by tests/spool/spool_gen through core/'s encoder
# (records, checksums, indexes exactly as the server writes them), which
# takes seconds instead of a million SMTP transactions.  Each command runs
# RUNS times with a warm page cache; the median wall time is printed.
# Not a test: it prints figures and exits 0.
set -euo pipefail

build=${1:-build}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
gen=$build/tests/spool/spool_gen
tool=$build/tools/spool/smtpsink-spool
for b in "$gen" "$tool"; do
	[[ -x $b ]] || { echo "missing $b: meson compile -C $build" >&2; exit 1; }
done
messages=${MESSAGES:-1000000}
shards=${SHARDS:-2}
segment_bytes=${SEGMENT_BYTES:-268435456}
open_last=${OPEN_LAST:-1}
runs=${RUNS:-5}
spool=${SPOOL:-$(mktemp -d -t spool-bench.XXXXXX)/spool}
trap 'rm -rf "$(dirname "$spool")"' EXIT

gen_args=("$spool" --messages "$messages" --shards "$shards" --segment-bytes "$segment_bytes")
((open_last)) && gen_args+=(--open-last)
start=$(date +%s.%N)
"$gen" "${gen_args[@]}"
printf 'spool: %s messages, %s shards, %s-byte segments, last open: %s; written in %.2f s, %s on disk\n' \
	"$messages" "$shards" "$segment_bytes" "$open_last" "$(echo "$(date +%s.%N) - $start" | bc)" \
	"$(du -sh "$spool" | cut -f1)"
"$tool" --spool "$spool" stats | tail -n 1

# median_time CMD... - run CMD RUNS times (output discarded); print the
# median wall time in seconds.
median_time()
{
	local -a times=()
	local i t0
	for ((i = 0; i < runs; i++)); do
		t0=$(date +%s%N)
		"$@" >/dev/null
		times+=("$((($(date +%s%N) - t0) / 1000))")
	done
	printf '%s\n' "${times[@]}" | sort -n | sed -n "$(((runs + 1) / 2))p" | awk '{ printf "%.3f", $1 / 1e6 }'
}

bench()
{
	printf '%-58s %s s\n' "smtpsink-spool $*" "$(median_time "$tool" --spool "$spool" "$@")"
}

"$tool" --spool "$spool" ls --limit 1 >/dev/null # warm the page cache
bench ls --limit 20
bench ls --limit 20 --json
bench ls --to 'user7@*' --no-subject
bench ls --to 'user7@*'
bench ls --subject 'message 99999*'
bench ls --since 2023-11-14T22:20:00Z --limit 20
qid=$("$tool" --spool "$spool" ls --limit 1 --since 2023-11-14T22:14:00Z --until 2023-11-14T22:14:01Z --json |
	sed 's/^{"qid":"\([^"]*\)".*/\1/')
bench show "$qid"
bench stats
bench verify --quiet
