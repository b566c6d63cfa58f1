# Sourced by the benchmark scripts (not run by `make bench`: not *.sh), right after `set -euo pipefail`, as
#   source "$(dirname "$0")/lib.bash" NAME
# so that every benchmark sets up, finds its binaries and cleans up the same way. It sets
#   REPO         the repository root (docs/benchmarks/ is created in it)
#   BIN          the qemu-chroot to measure: $QEMU_CHROOT, else the release build, else the debug build
#   CACHE        $BENCH_DIR, else .build-bench/NAME: what is worth keeping between runs (downloads, appliances);
#                not created here, only by the scripts that keep something
#   WORK         a temporary directory, the current directory after sourcing, removed on exit (also on an
#                error, Ctrl-C or SIGTERM) after the commands given to `at_exit` ran, the last one given first
#   LOAD_BEFORE  the load average before anything was measured
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# The path of product $1, release build first; the debug build's numbers are not comparable, so it is named.
bench_binary() {
  local path
  for path in "$REPO/.build/release/$1" "$REPO/.build/debug/$1"; do
    if [ -x "$path" ]; then
      [[ $path == */debug/* ]] && echo "bench: measuring the debug build of $1 (make bench builds release)" >&2
      echo "$path"; return
    fi
  done
  echo "bench: no $1 built: swift build -c release --product $1" >&2
  return 1
}
BIN=${QEMU_CHROOT:-$(bench_binary qemu-chroot)}
[ -x "$BIN" ] || { echo "bench: $BIN is not an executable" >&2; exit 1; }

CACHE=${BENCH_DIR:-$REPO/.build-bench/$1}
mkdir -p "$REPO/docs/benchmarks"

BENCH_EXIT_HOOKS=()
at_exit() { BENCH_EXIT_HOOKS=("$1" "${BENCH_EXIT_HOOKS[@]}"); }
bench_exit() {
  local hook
  for hook in "${BENCH_EXIT_HOOKS[@]}"; do eval "$hook" || true; done
  cd / && rm -rf --one-file-system "$WORK"
}
WORK=$(mktemp -d "/tmp/qemu-chroot-bench-$1.XXXXXX")
trap bench_exit EXIT
# bash runs the EXIT trap on these only when they make the script exit through `exit`.
trap 'exit 130' INT
trap 'exit 143' TERM
cd "$WORK"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

now() { date +%s.%N; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
