# Runs INSIDE the VM (scripts/vm-nbd test) as root: loads nbd, then runs the kernel tests straight from the test
# bundle built on the host (starting SwiftPM under TCG costs ~20 s). Exits non-zero on any failure.
set -eu
cd "$VMTEST_REPO"
BUNDLE=$(ls -d .build/debug/*PackageTests.xctest | head -1)
# Before nbd is loaded this boot is a host without the driver, so KernelDriverAbsentTests run here (after
# modprobe they skip) at the cost of one bundle start instead of a second boot. The module auto-loader is
# switched off meanwhile: a generic-netlink lookup of the "nbd" family would load the module.
if [ ! -e /sys/module/nbd ] && [ -z "${VMTEST_SKIP_ABSENT:-}" ]; then
  loader=$(cat /proc/sys/kernel/modprobe)
  echo /bin/false > /proc/sys/kernel/modprobe
  "$BUNDLE" --testing-library swift-testing --no-parallel --filter 'KernelDriverAbsentTests' 2>&1 | tee /tmp/absent.txt
  echo "$loader" > /proc/sys/kernel/modprobe
  grep -q 'KernelDriverAbsentTests.*passed' /tmp/absent.txt || { echo "in-guest: KernelDriverAbsentTests did not pass"; exit 1; }
  ! grep -q 'skipped' /tmp/absent.txt || { echo "in-guest: KernelDriverAbsentTests skipped without the driver"; exit 1; }
  [ ! -e /sys/module/nbd ] || { echo "in-guest: KernelDriverAbsentTests loaded the nbd module"; exit 1; }
  echo "in-guest: KernelDriverAbsentTests passed before nbd was loaded"
fi
modprobe nbd
modprobe loop  # the BLKPG-on-loop tests run here too, on a kernel with partition parsers
modprobe dm_mod  # device-mapper, for LVM logical volumes (tests/vm/lvm-udev.sh)
# udev, as on users' hosts: it opens and probes every new nbd/loop/dm device, and lvm2's rules (69-lvm.rules) can
# activate an attached image's VG. Every test below runs with it.
/lib/systemd/systemd-udevd --daemon
udevadm trigger --action=add >/dev/null 2>&1 || true
udevadm settle --timeout=120 || echo "in-guest: udevadm settle timed out"
echo "in-guest: systemd-udevd running (pid $(pidof systemd-udevd)), lvm2 rules: $(ls /lib/udev/rules.d | grep -c lvm)"
echo "in-guest: nbd loaded (nbds_max=$(cat /sys/module/nbd/parameters/nbds_max), max_part=$(cat /sys/module/nbd/parameters/max_part))"
# One at a time: the tests share the nbd driver and some images.
"$BUNDLE" --testing-library swift-testing --no-parallel --filter "$VMTEST_FILTER"

# Distribution layouts through kernel nbd on a kernel with vfat: the ESP the image's fstab lists is mounted and a
# write to /boot/efi lands on it (read back from the output with mtools), and {{.Device}} is /dev/nbdN with every
# partition as nbdNpM. The host has no vfat: there the ESP test skips and the refusal test runs instead.
modprobe vfat
modprobe fuse
"$BUNDLE" --testing-library swift-testing --no-parallel \
  --filter 'DistributionLayoutBuildTests/(ubuntuWritesToBootEFILandOnTheESP|deviceIsTheWholeDisk)' > /tmp/layouts.txt 2>&1 \
  || { cat /tmp/layouts.txt; echo "in-guest: distribution layout tests failed"; exit 1; }
grep -E '(ubuntuWritesToBootEFILandOnTheESP|deviceIsTheWholeDisk).* (passed|skipped)' /tmp/layouts.txt
grep -q 'ubuntuWritesToBootEFILandOnTheESP() passed' /tmp/layouts.txt \
  || { cat /tmp/layouts.txt; echo "in-guest: the ESP test did not run"; exit 1; }

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
  # No shelling out on the nbd path: no mount, umount, chroot, losetup, partx, nbd-client or qemu-nbd --connect.
  strace -f -qq -e trace=execve -o /tmp/execve.txt "$QC" shell --attach nbd --read-only "$VMTEST_WORK/gpt-shell-nbd.qcow2" -- true
  if grep -E 'execve\("[^"]*/(mount|umount|chroot|losetup|partx|partprobe|nbd-client|blockdev)"|qemu-nbd".*"(-c|--connect)' /tmp/execve.txt; then
    echo "in-guest: shell --attach nbd ran a forbidden program (above)"; exit 1
  fi
  echo "in-guest: strace execve of shell --attach nbd: $(grep -o 'execve("[^"]*"' /tmp/execve.txt | sort -u | tr '\n' ' ')"
  # kill -9 mid-command: the device frees itself (DISCONNECT_ON_CLOSE / DO_IT interrupted), no cleanup needed.
  for mode in nbd nbd-ioctl; do
    "$QC" shell --attach $mode --read-only "$VMTEST_WORK/gpt-shell-$mode.qcow2" -- sleep 60 &
    pid=$!
    n=0; until grep -qs '/dev/nbd' /proc/$pid/mountinfo || [ $n -ge 300 ]; do sleep 0.1; n=$((n+1)); done
    grep -qs '/dev/nbd' /proc/$pid/mountinfo || { echo "in-guest: shell --attach $mode never mounted"; exit 1; }
    ls /sys/block/nbd*/pid >/dev/null 2>&1 || { echo "in-guest: shell --attach $mode mounted but no nbd device is attached"; exit 1; }
    kill -9 $pid; wait $pid || true
    n=0; while ls /sys/block/nbd*/pid >/dev/null 2>&1 && [ $n -lt 600 ]; do sleep 0.1; n=$((n+1)); done
    if ls /sys/block/nbd*/pid >/dev/null 2>&1; then
      echo "in-guest: after kill -9 of shell --attach $mode, still attached: $(ls /sys/block/nbd*/pid)"; exit 1
    fi
    ! grep -q nbd /proc/mounts || { echo "in-guest: an nbd mount leaked into the guest's namespace"; exit 1; }
    echo "in-guest: kill -9 of shell --attach $mode: device freed by itself after $((n / 10)).$((n % 10)) s"
  done
  # kill -9 of a build whose provisioner has background children (`sleep &`, `(sleep &)`): every process it
  # started ends with it (its own PID namespace), and the nbd device frees itself, without `cleanup`.
  for mode in nbd nbd-ioctl; do
    cat > /tmp/kill.json <<EOJ
{"builders":[{"type":"qemu-chroot","source_image":"$VMTEST_WORK/grow-src.qcow2","output_directory":"/tmp/kill-out-$mode","attach":"$mode"}],
 "provisioners":[{"type":"shell","inline":["sleep 6011 &","(sleep 6012 &)","sleep 6013"]}]}
EOJ
    "$QC" build /tmp/kill.json > /tmp/kill-$mode.log 2>&1 &
    pid=$!
    n=0; until [ "$(pgrep -fc '^sleep 601[123]$')" = 3 ] || [ $n -ge 600 ]; do sleep 0.1; n=$((n+1)); done
    [ "$(pgrep -fc '^sleep 601[123]$')" = 3 ] || { echo "in-guest: build --attach $mode never started its three sleeps"; cat /tmp/kill-$mode.log; exit 1; }
    ls /sys/block/nbd*/pid >/dev/null 2>&1 || { echo "in-guest: build --attach $mode provisions but no nbd device is attached"; exit 1; }
    kill -9 $pid; wait $pid || true
    n=0; while { pgrep -f '^sleep 601[123]$' >/dev/null || ls /sys/block/nbd*/pid >/dev/null 2>&1; } && [ $n -lt 600 ]; do sleep 0.1; n=$((n+1)); done
    if pgrep -f '^sleep 601[123]$' >/dev/null; then echo "in-guest: after kill -9 of build ($mode) these survive: $(pgrep -fa '^sleep 601[123]$')"; exit 1; fi
    if ls /sys/block/nbd*/pid >/dev/null 2>&1; then echo "in-guest: after kill -9 of build ($mode), still attached: $(ls /sys/block/nbd*/pid)"; exit 1; fi
    echo "in-guest: kill -9 of build --attach $mode with background sleeps: none survived, device freed after $((n / 10)).$((n % 10)) s"
  done
  # A stale GPT behind an MBR without 0xEE: the kernel's partition scan and our layout both take the MBR's
  # partition at sector 81920 (a disagreement would stop the attach with a partition mismatch).
  for mode in nbd nbd-ioctl; do
    got=$("$QC" shell --attach $mode --read-only "$VMTEST_WORK/stale-gpt.qcow2" -- sh -c 'cat /root/which; cat /sys/class/block/nbd*p1/start' 2>/tmp/stale.txt) \
      || { echo "in-guest: shell --attach $mode on the stale-GPT disk failed:"; cat /tmp/stale.txt; exit 1; }
    [ "$(echo $got)" = "mbr 81920" ] || { echo "in-guest: stale-GPT disk over $mode: got '$got', expected the MBR partition (mbr 81920)"; exit 1; }
    echo "in-guest: stale GPT behind an MBR over $mode: kernel and qemu-chroot both use the MBR partition at sector 81920"
  done
  # nbd-ioctl: the kernel's own partition scan must not run after the attach returned (it dropped and remade
  # the partitions under a BLKPG-added one in 3 of 6 attaches): six attaches in a row, each mounting partition 2.
  for i in 1 2 3 4 5 6; do
    "$QC" shell --attach nbd-ioctl --read-only "$VMTEST_WORK/gpt-shell-nbd-ioctl.qcow2" -- cat /root/x > /tmp/attach-$i.txt 2>&1 \
      || { echo "in-guest: nbd-ioctl attach $i of 6 failed:"; cat /tmp/attach-$i.txt; exit 1; }
  done
  echo "in-guest: six nbd-ioctl attaches in a row mounted partition 2 and read /root/x"
  # qemu-nbd killed mid-build: the build fails naming it and how it ended, never only "Read-only file system",
  # and never reports success. The server is found through THIS build's ledger record (its work directory);
  # the provisioner sleeps long enough for python3 to start under TCG and the kill to land mid-step.
  for mode in nbd nbd-ioctl; do
    out=/tmp/death-out-$mode started=/tmp/death-$mode.started
    cat > /tmp/death.json <<EOJ
{"builders":[{"type":"qemu-chroot","source_image":"$VMTEST_WORK/grow-src.qcow2","output_directory":"$out","attach":"$mode"}],
 "provisioners":[{"type":"shell-local","inline":["touch $started"]},{"type":"shell","inline":["sleep 15","echo after > /after","sync"]}]}
EOJ
    "$QC" build /tmp/death.json > /tmp/death-$mode.log 2>&1 &
    pid=$!
    n=0; until [ -e $started ] || [ $n -ge 600 ]; do sleep 0.1; n=$((n+1)); done
    server=$(python3 - "$out" <<'EOP'
import glob, json, sys
for path in glob.glob('/run/qemu-chroot/runs/*/record.json'):
    resources = [entry['resource'] for entry in json.load(open(path))['entries']]
    if any(r.get('workDirectory', {}).get('path', '').startswith(sys.argv[1] + '/') for r in resources):
        print(' '.join(str(r['child']['pid']) for r in resources if r.get('child', {}).get('command') == 'qemu-nbd' and r['child'].get('pid')))
EOP
)
    [ -n "$server" ] || { echo "in-guest: no qemu-nbd in the ledger record of the $mode build"; cat /tmp/death-$mode.log; exit 1; }
    kill -9 $server
    rc=0; wait $pid || rc=$?
    if [ $rc != 1 ] || ! grep -q "qemu-nbd (pid $server) serving .* died while the image was in use (killed by signal 9" /tmp/death-$mode.log; then
      echo "in-guest: build ($mode) with its qemu-nbd killed exited $rc without naming the dead server:"; cat /tmp/death-$mode.log; exit 1
    fi
    ! ls $out/*.qcow2 >/dev/null 2>&1 || { echo "in-guest: build ($mode) wrote an output although its server died"; exit 1; }
    n=0; while ls /sys/block/nbd*/pid >/dev/null 2>&1 && [ $n -lt 100 ]; do sleep 0.1; n=$((n+1)); done
    ! ls /sys/block/nbd*/pid >/dev/null 2>&1 || { echo "in-guest: build ($mode) left $(ls /sys/block/nbd*/pid) attached"; exit 1; }
    echo "in-guest: qemu-nbd killed mid-build ($mode): exit 1, $(grep -o 'qemu-nbd (pid [0-9]*) serving .* died [^:]*' /tmp/death-$mode.log | head -1 | sed 's/serving .* died/serving ... died/')"
  done
  # disk_size: ext4 grown online (EXT4_IOC_RESIZE_FS needs CAP_SYS_RESOURCE, which the dev container lacks).
  # The source (128 MiB sample-image, made on the host) is built to 256 MiB over nbd (auto); the chroot's df
  # lands in the image, and the output must be clean and its ext4 about 256 MiB.
  src=$VMTEST_WORK/grow-src.qcow2 out=$VMTEST_WORK/grow-out
  before=$("$QC" shell --read-only "$src" -- df -k / | awk 'NR==2{print $2}')
  cat > /tmp/grow.json <<EOJ
{"builders":[{"type":"qemu-chroot","source_image":"$src","output_directory":"$out","disk_size":"256M"}],
 "provisioners":[{"type":"shell","inline":["df -k / > /root/df.txt"]}]}
EOJ
  "$QC" build /tmp/grow.json
  img=$(ls "$out"/*.qcow2)
  qemu-img check -q "$img" || { echo "in-guest: qemu-img check of the disk_size output failed"; exit 1; }
  after=$("$QC" shell --read-only "$img" -- cat /root/df.txt | awk 'NR==2{print $2}')
  # 256 MiB less the 1 MiB gap, GPT and ext4 overhead: at least 230000 KiB; the source had about 115000.
  if [ -z "$after" ] || [ "$after" -lt 230000 ] || [ "$after" -gt 262144 ]; then
    echo "in-guest: disk_size 256M: df in the chroot saw $after KiB (source $before KiB), expected 230000..262144"; exit 1
  fi
  echo "in-guest: qemu-chroot build disk_size 256M grew ext4 online: df $before -> $after KiB, qemu-img check clean"
else
  echo "in-guest: qemu-chroot shell is not in this build; skipping the CLI run"
fi

# The LVM layout through device-mapper under udev (needs the CLI, like the block above).
if [ -x .build/debug/qemu-chroot ] && [ -f "$VMTEST_WORK/lvm.qcow2" ]; then . tests/vm/lvm-udev.sh; fi

# Images of another architecture on a kernel older than 6.7: the host binfmt_misc fallback (build, a pre-existing
# handler, concurrent builds, kill -9 and cleanup, the opt-out, doctor).
. tests/vm/host-binfmt.sh
