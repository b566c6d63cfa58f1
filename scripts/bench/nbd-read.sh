#!/usr/bin/env bash
# Reads a whole 1 GiB qcow2 export (mostly random data) from ONE qemu-nbd, with nbdcopy (libnbd, the
# reference client) and with our nbd-bench, 1 and 4 connections, in the same run; writes
# docs/benchmarks/nbd-read.md. Needs a release build of nbd-bench (make bench builds it).
set -euo pipefail
source "$(dirname "$0")/lib.bash" nbd-read
REPS=${REPS:-3}
NBD_BENCH=$REPO/.build/release/nbd-bench
OUT=$REPO/docs/benchmarks/nbd-read.md

# A no-op when make bench built it already; its output only matters when it fails.
if ! build_log=$(cd "$REPO" && swift build -c release --product nbd-bench 2>&1); then echo "$build_log" >&2; exit 1; fi

# 960 MiB of random data and a 64 MiB zero tail: mostly allocated, a little sparse, like a real disk.
head -c 960M /dev/urandom > "$WORK/source.raw"
truncate -s 1G "$WORK/source.raw"
qemu-img convert -f raw -O qcow2 "$WORK/source.raw" "$WORK/disk.qcow2"
rm -f "$WORK/source.raw"

socket="$WORK/nbd.sock"
uri="nbd+unix:///?socket=$socket"
qemu-nbd --format=qcow2 --read-only --shared=0 --persistent --socket="$socket" "$WORK/disk.qcow2" &
server_pid=$!
at_exit 'kill -TERM "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null'
for _ in $(seq 200); do [ -S "$socket" ] && nbdinfo --size "$uri" >/dev/null 2>&1 && break; sleep 0.05; done

# MiB/s of one run of "$@", timed from outside the process, the same way for both clients. It runs in $(...),
# where set -e does not reach: a failed client must fail the assignment, not become a number.
measure() {
  local start end
  start=$(now)
  "$@" >/dev/null || { echo "nbd-read: $1 failed" >&2; return 1; }
  end=$(now)
  awk -v s="$start" -v e="$end" 'BEGIN { printf "%.0f", 1024 / (e - s) }'
}

# Best of $REPS; the runs alternate between clients so the page cache favours neither.
declare -A best runs
nbdcopy "$uri" null:  # warm the host page cache once
for rep in $(seq "$REPS"); do
  for conns in 1 4; do
    for client in nbdcopy ours; do
      if [ $client = nbdcopy ]; then
        mibs=$(measure nbdcopy --connections=$conns "$uri" null:)
      else
        mibs=$(measure "$NBD_BENCH" --socket "$socket" --connections $conns)
      fi
      key="$client-$conns"
      runs[$key]="${runs[$key]:-}${runs[$key]:+, }$mibs"
      if [ "$mibs" -gt "${best[$key]:-0}" ]; then best[$key]=$mibs; fi
    done
  done
done

percent() { awk -v a="${best[ours-$1]}" -v b="${best[nbdcopy-$1]}" 'BEGIN { printf "%.0f", 100 * a / b }'; }
{
  echo "## NBD read: our client vs nbdcopy"
  echo
  echo "\`scripts/bench/nbd-read.sh\`, $(date -u +%Y-%m-%d): a 1 GiB qcow2 (960 MiB random data, 64 MiB zero tail) served"
  echo "read-only by one \`qemu-nbd --shared=0 --persistent\` ($(qemu-nbd --version | head -1 | cut -d' ' -f2)) on a unix socket, read whole to a null"
  echo "sink by \`nbdcopy --connections=N URI null:\` ($(nbdcopy --version | head -1)) and by \`nbd-bench --connections N\`"
  echo "(256 KiB requests, 16 in flight per connection). Wall-clock time of each process, best of $REPS alternating runs"
  echo "after one warm-up read, on a shared 2-core machine."
  echo
  echo "| connections | nbdcopy MiB/s | ours MiB/s | ours / nbdcopy | runs nbdcopy | runs ours |"
  echo "|---|---|---|---|---|---|"
  for conns in 1 4; do
    echo "| $conns | ${best[nbdcopy-$conns]} | ${best[ours-$conns]} | $(percent $conns)% | ${runs[nbdcopy-$conns]} | ${runs[ours-$conns]} |"
  done
  echo
  echo "Target: ours ≥ 80% of nbdcopy with one connection. Both clients are bound by the one qemu-nbd serving them"
  echo "(its event loop competes for the same 2 cores), so more connections add little on this machine; the spread"
  echo "between runs is other work on the shared host."
} > "$OUT"
cat "$OUT"
