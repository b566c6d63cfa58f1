#!/usr/bin/env bash
# Kernel nbd benchmark, inside the Debian-kernel VM (scripts/vm-nbd; TCG, so absolute numbers are slower than on
# a host with the driver): attach → chroot ready → command → detach of a small qcow2 with `qemu-chroot shell
# --timings`, per backend (nbd = netlink, nbd-ioctl, fuse), against the classic sequence the Packer plugin runs
# (qemu-nbd --connect, wait for the partition node, mount, chroot, umount, qemu-nbd --disconnect).
# Writes docs/benchmarks/kernel-nbd.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
export VMDIR=${VMDIR:-$REPO/.build-vm}
RUNS=${RUNS:-5}
QC=$REPO/.build/release/qemu-chroot
[ -x "$QC" ] || QC=$REPO/.build/debug/qemu-chroot
if ! "$QC" shell --help 2>/dev/null | grep -q -- --attach; then
  echo "kernel-nbd bench: qemu-chroot shell is not in this build; nothing measured" >&2
  exit 0
fi
bash scripts/vm-nbd prepare >/dev/null
load=$(cut -d' ' -f1-3 /proc/loadavg)
work=$VMDIR/bench
rm -rf "$work"; mkdir -p "$work"
bash tests/vm/make-images "$work"
cat > "$work/run.sh" <<EOS
set -eu
modprobe nbd
modprobe loop
modprobe fuse
mkdir -p /run/lock  # qemu-nbd --connect puts its socket in /var/lock; /run is a fresh tmpfs here
img=$work/gpt-shell-nbd.qcow2
now() { cut -d' ' -f1 /proc/uptime; }
for i in \$(seq $RUNS); do
  for mode in nbd nbd-ioctl fuse; do
    t0=\$(now)
    "$QC" shell --attach \$mode --timings "\$img" -- true 2> "$work/err" || { cat "$work/err"; exit 1; }
    t1=\$(now)
    echo "\$mode \$(awk -v a=\$t0 -v b=\$t1 'BEGIN{printf "%.2f", b-a}') \$(grep -o 'timings:.*' "$work/err" | head -1)" >> "$work/results"
  done
  t0=\$(now)
  qemu-nbd -c /dev/nbd15 -f qcow2 "\$img"
  blockdev --rereadpt /dev/nbd15   # the plugin runs partprobe: qemu-nbd -c leaves the partition scan pending
  mkdir -p /tmp/m
  mount /dev/nbd15p2 /tmp/m
  chroot /tmp/m /bin/sh -c true
  umount /tmp/m
  qemu-nbd -d /dev/nbd15 >/dev/null
  t1=\$(now)
  echo "qemu-nbd--connect \$(awk -v a=\$t0 -v b=\$t1 'BEGIN{printf "%.2f", b-a}')" >> "$work/results"
done
EOS
bash scripts/vm-nbd run "$work/run.sh" > "$work/console" 2>&1 || {
  echo "kernel-nbd bench: the VM run failed; its console:" >&2; tail -20 "$work/console" >&2; exit 1; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mkdir -p docs/benchmarks
{
  echo "## Kernel nbd attach (in the VM)"
  echo
  echo "\`scripts/bench/kernel-nbd.sh\`: Debian's kernel under qemu TCG (this host has no nbd driver and no KVM), a"
  echo "64 MiB GPT qcow2 with a busybox ext4 root, \`qemu-chroot shell --attach MODE IMAGE -- true\` (process start"
  echo "to exit: probe, attach, layout, mount, chroot mounts, command, unmount, detach), median of $RUNS runs, against"
  echo "the plugin's classic sequence with \`qemu-nbd --connect\`. TCG makes every number several times slower than"
  echo "on a host with the driver, and wall minus \`total\` is mostly the Swift binary starting under TCG; compare"
  echo "the rows with each other. Host load average when it started: $load (2 cores, shared)."
  echo
  echo "| how | median wall (s) | phases of the median run |"
  echo "|---|---|---|"
  for how in nbd nbd-ioctl fuse qemu-nbd--connect; do   # the last: mount + chroot + umount only, no chroot mounts
    m=$(awk -v h=$how '$1 == h {print $2}' "$work/results" | median)
    phases=$(awk -v h=$how -v m="$m" '$1 == h && $2 == m { $1 = ""; $2 = ""; sub(/^ *timings: */, ""); print; exit }' "$work/results")
    phases=${phases## }; echo "| \`$how\` | $m | ${phases:-—} |"
  done
} > docs/benchmarks/kernel-nbd.md
cat docs/benchmarks/kernel-nbd.md
