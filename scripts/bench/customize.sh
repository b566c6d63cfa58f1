#!/usr/bin/env bash
# The same three-operation customization (--mkdir, --write, --run-command), in place on a copy of the
# same sample image, by `qemu-chroot customize` and by `virt-customize` (libguestfs, which boots an
# appliance VM; TCG here since KVM does not work), in one run. Writes docs/benchmarks/customize.md.
set -euo pipefail
source "$(dirname "$0")/lib.bash" customize
RUNS=${RUNS:-3}
OUT=docs/benchmarks/customize.md
OPS=(--mkdir /opt/bench --write '/etc/motd:customized' --run-command 'echo hi > /opt/bench/x')

"$BIN" sample-image --size 256M base.qcow2 >/dev/null

# One timed run of "$@" on a fresh copy of the base image (the copy is not timed).
timed() { cp base.qcow2 copy.qcow2; start=$(now); "$@" > run.log 2>&1; end=$(now); awk -v a="$start" -v b="$end" 'BEGIN {print b - a}'; }

: > ours.times
for i in $(seq "$RUNS"); do timed "$BIN" customize -a copy.qcow2 "${OPS[@]}" >> ours.times; done
OURS=$(median < ours.times)
PHASES=$(grep -o 'time: .*' run.log | sed 's/^time: //')
"$BIN" shell --read-only copy.qcow2 -- cat /opt/bench/x /etc/motd > ours.check

. "$REPO/scripts/bench/guestfs-env"
COLD=$(timed virt-customize -q -a copy.qcow2 "${OPS[@]}")
: > vc.times
for i in $(seq "$RUNS"); do timed virt-customize -q -a copy.qcow2 "${OPS[@]}" >> vc.times; done
THEIRS=$(median < vc.times)
"$BIN" shell --read-only copy.qcow2 -- cat /opt/bench/x /etc/motd > vc.check
cmp -s ours.check vc.check || { echo "the two tools left different results: $(cat ours.check) vs $(cat vc.check)" >&2; exit 1; }
RATIO=$(awk -v a="$OURS" -v b="$THEIRS" 'BEGIN {print b / a}')
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)

cd "$REPO"
{
  echo "## Customize: qemu-chroot customize vs virt-customize"
  echo
  echo "\`scripts/bench/customize.sh\`: the same three operations (\`--mkdir /opt/bench --write /etc/motd:customized"
  echo "--run-command 'echo hi > /opt/bench/x'\`), in place on a fresh copy of the same sample image (256 MiB"
  echo "qcow2, GPT, ext4 busybox root), median of $RUNS runs each, same run; both results read back and compared."
  echo "virt-customize boots the libguestfs appliance under TCG (no KVM here). Load average when it ran: $LOAD"
  echo "on 2 cores (shared)."
  echo
  echo "| tool | median wall time |"
  echo "|---|---|"
  printf '| `qemu-chroot customize` | %.2f s |\n' "$OURS"
  printf '| `virt-customize` (warm appliance cache) | %.2f s |\n' "$THEIRS"
  printf '| `virt-customize` first run | %.2f s |\n' "$COLD"
  echo
  printf '**qemu-chroot customize is %.1fx faster** than warm virt-customize.\n' "$RATIO"
  echo
  echo "Phase breakdown of our last run: $PHASES. qemu-chroot binary: \`${BIN#$REPO/}\`."
} > "$OUT"
cat "$OUT"
