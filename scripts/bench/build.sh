#!/usr/bin/env bash
# The same customization (write a file, run a command) on the same sample image, by `qemu-chroot build`
# and by `virt-customize --run-command` (libguestfs, which boots an appliance VM; TCG here since KVM does
# not work). Writes docs/benchmarks/build.md.
#
# libguestfs-tools is installed here only (never in scripts/setup: it pulls in udev and systemd); the
# appliance's kernel setup is in scripts/bench/guestfs-env.
set -euo pipefail
source "$(dirname "$0")/lib.bash" build
RUNS=${RUNS:-3}
OUT=docs/benchmarks/build.md

"$BIN" sample-image --size 256M base.qcow2 >/dev/null
cat > t.json <<'JSON'
{"builders": [{"type": "qemu-chroot", "name": "bench", "source_image": "base.qcow2", "copy_files": []}],
 "provisioners": [{"type": "shell", "inline": ["echo hi > /x", "uname -a"]}]}
JSON

# --- qemu-chroot build
: > ours.times
for i in $(seq "$RUNS"); do
  start=$(now)
  "$BIN" build -force t.json > ours.log 2>&1
  end=$(now)
  awk -v a="$start" -v b="$end" 'BEGIN {print b - a}' >> ours.times
done
OURS=$(median < ours.times)
PHASES=$(grep -o 'time: .*' ours.log | sed 's/^time: //')

# --- virt-customize
. "$REPO/scripts/bench/guestfs-env"
vc() { cp base.qcow2 vc.qcow2; start=$(now); virt-customize -q -a vc.qcow2 --run-command 'echo hi > /x' --run-command 'uname -a' > vc.log 2>&1; end=$(now); awk -v a="$start" -v b="$end" 'BEGIN {print b - a}'; }
COLD=$(vc)
: > vc.times
for i in $(seq "$RUNS"); do vc >> vc.times; done
THEIRS=$(median < vc.times)
RATIO=$(awk -v a="$OURS" -v b="$THEIRS" 'BEGIN {print b / a}')

cd "$REPO"
{
  echo "## Build: qemu-chroot build vs virt-customize"
  echo
  echo "Same sample image (256 MiB qcow2, GPT, ext4 busybox root), same customization: write /x and run"
  echo "\`uname -a\`. Median of $RUNS runs each, same run. virt-customize boots the libguestfs appliance under"
  echo "TCG (no KVM here) and edits a copy of the image in place; qemu-chroot writes a new flattened qcow2."
  echo
  echo "| tool | median wall time |"
  echo "|---|---|"
  printf '| `qemu-chroot build` | %.2f s |\n' "$OURS"
  printf '| `virt-customize --run-command` (warm appliance cache) | %.2f s |\n' "$THEIRS"
  printf '| `virt-customize` first run (builds the appliance) | %.2f s |\n' "$COLD"
  echo
  printf '**qemu-chroot is %.1fx faster** than warm virt-customize.\n' "$RATIO"
  echo
  echo "Phase breakdown of our last run: $PHASES."
  echo
  echo "Load on the machine slows the TCG appliance most; compare runs made on an idle machine."
} > "$OUT"
cat "$OUT"
