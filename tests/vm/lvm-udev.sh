# Runs INSIDE the VM (sourced by tests/vm/in-guest.sh, systemd-udevd running, dm_mod loaded): the LVM layout
# (tests/lvm-layout) built over nbd with its LVs (root; data, two segments, at /srv) through device-mapper, while udev and lvm2's udev rules
# watch every device; the host's LVM must never activate the image's VG, with or without a host VG of the same
# name (vg0); a kill -9 leaves a dm device that `qemu-chroot cleanup` lists (--dry-run) and removes.
QC=.build/debug/qemu-chroot
fail() { echo "in-guest lvm: $*"; exit 1; }
dm_names() { dmsetup info -c --noheadings -o name 2>/dev/null | grep -v '^No devices found' || true; }
ours() { dm_names | grep -E '^qemu-chroot-[0-9a-f]{16}-vg0-(root|data)$' || true; }
pidof systemd-udevd >/dev/null || fail "systemd-udevd is not running"
[ -e /dev/mapper/control ] || fail "no /dev/mapper/control (dm_mod not loaded)"

# build_checked NAME: builds lvm.qcow2 into $VMTEST_WORK/NAME; while its provisioner sleeps, checks the host side.
build_checked() {
  local name=$1 out=$VMTEST_WORK/$1 log=/tmp/$1.log pid n part
  rm -rf "$out"
  cat > /tmp/$name.json <<EOJ
{"builders":[{"type":"qemu-chroot","source_image":"$VMTEST_WORK/lvm.qcow2","output_directory":"$out"}],
 "provisioners":[{"type":"shell","inline":["echo r-$name > /root-file","echo b-$name > /boot/boot-file","echo s-$name > /srv/srv-file","touch /tmp/$name.mapped; sleep 3"]}]}
EOJ
  "$QC" build /tmp/$name.json > "$log" 2>&1 &
  pid=$!
  n=0; until [ "$(ours | wc -l)" = 2 ] && grep -q "using LVM volume vg0/root" "$log" || [ $n -ge 600 ]; do sleep 0.1; n=$((n+1)); done
  mapped=$(ours | tr '\n' ' ')
  [ "$(ours | wc -l)" = 2 ] || { cat "$log"; fail "$name: not both vg0/root and vg0/data are mapped by us: $mapped"; }
  sleep 1; udevadm settle --timeout=30 || true
  # The kernel's own partition holding the PV: udev must have seen it as LVM2_member, or this test proves nothing.
  part=$(for p in /sys/block/nbd*/nbd*p2; do [ -e "$p" ] && basename "$p"; done | head -1)
  [ -n "$part" ] || fail "$name: the kernel made no nbd partition 2 (max_part=0?); the udev case is not exercised"
  udevadm info --query=property --name="/dev/$part" | grep -qx 'ID_FS_TYPE=LVM2_member' \
    || fail "$name: udev did not tag /dev/$part LVM2_member: $(udevadm info --query=property --name=/dev/$part | tr '\n' ' ')"
  if dm_names | grep -E '^vg0-' | grep -qv '^vg0-root$' || { dm_names | grep -qx vg0-root && [ "${HOST_VG_UUID:-}" = "" ]; }; then
    fail "$name: the host's LVM activated the image's VG: $(dm_names | tr '\n' ' ')"
  fi
  if [ -n "${HOST_VG_UUID:-}" ] && [ "$(dmsetup info -c --noheadings -o uuid vg0-root)" != "$HOST_VG_UUID" ]; then
    fail "$name: vg0-root is no longer the host's own LV"
  fi
  [ -z "$(ls /sys/class/block/$part/holders)" ] || fail "$name: /dev/$part is held by $(ls /sys/class/block/$part/holders)"
  wait $pid || { cat "$log"; fail "$name: build failed"; }
  [ -z "$(ours)" ] || fail "$name: our dm device is left after the build: $(ours)"
  ! losetup -a | grep -q /dev/nbd || fail "$name: a loop device over nbd is left: $(losetup -a)"
  echo "in-guest lvm: $name: LVs through $mapped; /dev/$part is LVM2_member to udev, never activated by the host; dm: $(dm_names | tr '\n' ' ')"
}

# Control: attached by other means (qemu-nbd -c, in this script only), the image's VG IS activated by udev and
# lvm2's rules here; otherwise the checks below could not fail.
t0=$(date +%s.%N)
mkdir -p /run/lock  # qemu-nbd -c keeps its socket in /var/lock, which is /run/lock, a fresh tmpfs here
qemu-nbd -c /dev/nbd15 -r -f qcow2 "$VMTEST_WORK/lvm.qcow2"
n=0; until dm_names | grep -qx vg0-root || [ $n -ge 300 ]; do sleep 0.1; n=$((n+1)); done
dm_names | grep -qx vg0-root || { qemu-nbd -d /dev/nbd15 >/dev/null; fail "control: udev + lvm2 never activated the image's vg0 here, so this test proves nothing"; }
echo "in-guest lvm: control: qemu-nbd -c, then udev + lvm2 activated the image's vg0 after $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s: $(dm_names | tr '\n' ' ')"
vgchange -qq -an vg0 >/dev/null 2>&1 || dmsetup remove vg0-root vg0-swap vg0-data 2>/dev/null || true
qemu-nbd -d /dev/nbd15 >/dev/null
udevadm settle --timeout=30 || true
rm -rf /run/lvm/pvs_online /run/lvm/vgs_online  # the control's online records, so the builds start as a fresh host would
[ -z "$(dm_names)" ] || fail "control: could not deactivate: $(dm_names)"

build_checked lvm-out

# A host VG named vg0, active, on a loop device of the guest: the image's vg0 must not disturb it.
truncate -s 32M /tmp/hostpv.img
hostpv=$(losetup --find --show /tmp/hostpv.img)
pvcreate -qq "$hostpv" && vgcreate -qq vg0 "$hostpv" && lvcreate -qq -y -L 8m -n root vg0 >/dev/null
HOST_VG_UUID=$(dmsetup info -c --noheadings -o uuid vg0-root)
[ -n "$HOST_VG_UUID" ] || fail "could not make the host VG vg0"
build_checked lvm-hostvg-out
[ "$(dmsetup info -c --noheadings -o uuid vg0-root)" = "$HOST_VG_UUID" ] || fail "the host's vg0-root changed"
vgchange -qq -an vg0 >/dev/null; vgremove -qq -ff vg0 >/dev/null; pvremove -qq "$hostpv" >/dev/null; losetup -d "$hostpv"; rm -f /tmp/hostpv.img
HOST_VG_UUID=

# kill -9 while mapped: the dm device (and the loop under it) stay until `cleanup`, which lists and removes them.
"$QC" shell --read-only "$VMTEST_WORK/lvm.qcow2" -- sleep 60 > /tmp/lvm-kill.log 2>&1 &
pid=$!
n=0; until [ -n "$(ours)" ] || [ $n -ge 600 ]; do sleep 0.1; n=$((n+1)); done
n=0; until [ "$(ours | wc -l)" = 2 ] || [ $n -ge 600 ]; do sleep 0.1; n=$((n+1)); done
names=$(ours)
[ "$(ours | wc -l)" = 2 ] || { cat /tmp/lvm-kill.log; fail "kill -9: shell never mapped vg0/root and vg0/data: $names"; }
sleep 0.5; kill -9 $pid; wait $pid 2>/dev/null || true
"$QC" cleanup --dry-run > /tmp/lvm-dry.txt 2>&1 || true
for name in $names; do
  grep -q "would release device-mapper device $name" /tmp/lvm-dry.txt || { cat /tmp/lvm-dry.txt; fail "cleanup --dry-run does not list $name"; }
done
[ "$(ours)" = "$names" ] || fail "the dry run changed the dm devices: $(ours)"
"$QC" cleanup > /tmp/lvm-clean.txt 2>&1 || { cat /tmp/lvm-clean.txt; fail "cleanup failed"; }
for name in $names; do
  grep -q "released device-mapper device $name" /tmp/lvm-clean.txt || { cat /tmp/lvm-clean.txt; fail "cleanup did not release $name"; }
done
[ -z "$(ours)" ] || fail "after cleanup still there: $(ours)"
! losetup -a | grep -q /dev/nbd || fail "after cleanup a loop device over nbd is left: $(losetup -a)"
n=0; while ls /sys/block/nbd*/pid >/dev/null 2>&1 && [ $n -lt 300 ]; do sleep 0.1; n=$((n+1)); done
! ls /sys/block/nbd*/pid >/dev/null 2>&1 || fail "after cleanup an nbd device is still attached"
echo "in-guest lvm: kill -9 left $(echo $names); cleanup --dry-run listed them, cleanup removed them"
touch "$VMTEST_WORK/lvm.ran"
