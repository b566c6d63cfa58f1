#!/usr/bin/env bash
# attach → chroot ready → detach for a small image (64 MiB GPT disk, ext4 root holding busybox), per attach
# backend this host offers, with the phase breakdown `qemu-chroot shell --timings` prints. The alternative,
# in the same run: the same job done with the usual tools (losetup, mount, chroot, umount) on the raw image.
# Writes docs/benchmarks/attach-chroot.md.
set -euo pipefail
source "$(dirname "$0")/lib.bash" attach-chroot
RUNS=${RUNS:-15}
OUT=$REPO/docs/benchmarks/attach-chroot.md

# The image: busybox as /bin/sh on ext4 in GPT partition 1 (type Linux root x86-64).
mkdir -p "$WORK"/seed/{bin,etc,root,proc,sys,dev,tmp}
cp "$(command -v busybox)" "$WORK/seed/bin/busybox"
for applet in sh true cat; do ln -s busybox "$WORK/seed/bin/$applet"; done
truncate -s 60M "$WORK/fs.img" && mkfs.ext4 -q -F -d "$WORK/seed" "$WORK/fs.img"
truncate -s 64M "$WORK/disk.raw"
sgdisk -n 1:2048:+60M -t 1:8304 "$WORK/disk.raw" >/dev/null
dd if="$WORK/fs.img" of="$WORK/disk.raw" bs=1M seek=1 conv=notrunc status=none
qemu-img convert -O qcow2 "$WORK/disk.raw" "$WORK/disk.qcow2"

ms() { awk -v s="$1" 'BEGIN { printf "%.0f", s * 1000 }'; }

PHASES="probe attach layout mount command unmount detach overhead"
ROWS=""
measure_backend() {  # mode image
  local mode=$1 image=$2 phase start end
  : > "$WORK/timings" ; : > "$WORK/wall"
  for _ in $(seq "$RUNS"); do
    start=$(now)
    "$BIN" shell --attach "$mode" --timings "$image" -- true 2> "$WORK/err" || { cat "$WORK/err" >&2; return 1; }
    end=$(now)
    awk -v a="$start" -v b="$end" 'BEGIN { print b - a }' >> "$WORK/wall"
    grep -o 'timings: .*' "$WORK/err" | sed 's/^timings: //' >> "$WORK/timings"
  done
  local row="| $mode ($(basename "$image")) | $(ms "$(median < "$WORK/wall")")"
  for phase in $PHASES; do
    row+=" | $(ms "$(grep -o "$phase=[0-9.]*" "$WORK/timings" | cut -d= -f2 | median)")"
  done
  ROWS+="$row |"$'\n'
}

measure_backend fuse "$WORK/disk.qcow2"
measure_backend loop "$WORK/disk.raw"
if [ -e /sys/module/nbd ]; then
  measure_backend nbd "$WORK/disk.qcow2"
  measure_backend nbd-ioctl "$WORK/disk.qcow2"
fi

# The alternative: the same steps with the usual tools, in a private mount namespace.
: > "$WORK/wall"
for _ in $(seq "$RUNS"); do
  start=$(now)
  unshare -m --propagation private bash -ec '
    work=$1; mnt=$work/mnt; mkdir -p "$mnt"
    loop=$(losetup --find --show --offset 1048576 --sizelimit 62914560 "$work/disk.raw")
    mount -t ext4 "$loop" "$mnt"
    mount -t proc proc "$mnt/proc"; mount -t sysfs sysfs "$mnt/sys"; mount --bind /dev "$mnt/dev"
    mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts "$mnt/dev/pts"
    chroot "$mnt" /bin/sh -c true
    umount "$mnt/dev/pts" "$mnt/dev" "$mnt/sys" "$mnt/proc" "$mnt"
    losetup -d "$loop"' _ "$WORK"
  end=$(now)
  awk -v a="$start" -v b="$end" 'BEGIN { print b - a }' >> "$WORK/wall"
done
TOOLS=$(ms "$(median < "$WORK/wall")")

{
  echo "## Attach → chroot ready → detach"
  echo
  echo "\`scripts/bench/attach-chroot.sh\`: \`qemu-chroot shell --attach MODE --timings IMAGE -- true\` on a 64 MiB"
  echo "GPT disk whose ext4 root holds busybox, median of $RUNS runs, milliseconds. *wall* is the whole process"
  echo "(start-up included); *overhead* is the sum of every phase but *command* (the chroot's \`true\`)."
  echo "Target: overhead < 300 ms on the FUSE path. Load average when measured: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "on $(nproc) cores (the machine is shared, so absolute numbers vary between runs)."
  echo
  echo "| backend (image) | wall | probe | attach | layout | mount | command | unmount | detach | overhead |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  printf "%s" "$ROWS"
  echo
  echo "The same job with the usual tools on the raw image (\`unshare -m\`, \`losetup --offset\`, \`mount\` ×5,"
  echo "\`chroot … true\`, \`umount\` ×5, \`losetup -d\`; no FUSE, no partition-table parsing): **$TOOLS ms** wall."
  [ -e /sys/module/nbd ] || echo "This host has no nbd driver, so the nbd backends were not measured (run in the VM: \`make vm-test\`)."
} > "$OUT"
cat "$OUT"
