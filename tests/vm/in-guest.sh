# Runs INSIDE the VM (scripts/vm-nbd test) as root: loads nbd, then runs the kernel tests straight from the test
# bundle built on the host (starting SwiftPM under TCG costs ~20 s). Exits non-zero on any failure.
set -eu
cd "$VMTEST_REPO"
modprobe nbd
modprobe loop  # the BLKPG-on-loop tests run here too, on a kernel with partition parsers
echo "in-guest: nbd loaded (nbds_max=$(cat /sys/module/nbd/parameters/nbds_max), max_part=$(cat /sys/module/nbd/parameters/max_part))"
BUNDLE=$(ls -d .build/debug/*PackageTests.xctest | head -1)
# One at a time: the tests share the nbd driver and some images.
"$BUNDLE" --testing-library swift-testing --no-parallel --filter "$VMTEST_FILTER"

# The CLI end to end through the kernel: `qemu-chroot shell` over nbd (netlink) and nbd-ioctl, writing into the
# image; tests/vm/verify-host reads /root/x back on the host.
QC=.build/debug/qemu-chroot
if "$QC" shell --help 2>/dev/null | grep -q -- --attach; then
  for mode in nbd nbd-ioctl; do
    img=$VMTEST_WORK/gpt-shell-$mode.qcow2
    "$QC" shell --attach $mode --timings "$img" -- sh -c "echo hi-$mode > /root/x && test -c /dev/null && test -d /proc/1 && test -d /sys/block && test -d /dev/pts"
    [ "$("$QC" shell --attach $mode --read-only "$img" -- cat /root/x)" = "hi-$mode" ]
    echo "in-guest: qemu-chroot shell --attach $mode wrote and read back /root/x"
    touch "$VMTEST_WORK/shell-$mode.ran"
  done
else
  echo "in-guest: qemu-chroot shell is not in this build; skipping the CLI run"
fi
