# Runs INSIDE the VM (scripts/vm-nbd test) as root: loads nbd, then runs the kernel tests straight from the test
# bundle built on the host (starting SwiftPM under TCG costs ~20 s). Exits non-zero on any failure.
set -eu
cd "$VMTEST_REPO"
modprobe nbd
echo "in-guest: nbd loaded (nbds_max=$(cat /sys/module/nbd/parameters/nbds_max), max_part=$(cat /sys/module/nbd/parameters/max_part))"
BUNDLE=$(ls -d .build/debug/*PackageTests.xctest | head -1)
"$BUNDLE" --testing-library swift-testing --filter "$VMTEST_FILTER"
