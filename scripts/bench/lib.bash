# Sourced by the benchmark scripts (not run by `make bench`: not *.sh). Sets WORK, a temporary directory
# removed on exit, cds into it, and records LOAD_BEFORE; $1 names the directory.
WORK=$(mktemp -d "/tmp/qemu-chroot-bench-$1.XXXXXX")
trap 'rm -rf --one-file-system "$WORK"' EXIT
cd "$WORK"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

now() { date +%s.%N; }
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
