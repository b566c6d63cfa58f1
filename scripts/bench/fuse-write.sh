#!/usr/bin/env bash
# A 512 MiB fsync'd write inside the chroot (`dd conv=fsync` by `qemu-chroot shell`), on the FUSE path
# (qemu-storage-daemon export + loop, qcow2) against a loop device over the same disk as a raw file, in
# the same run, with the unmount and detach that follow. Then the same write without our tool, on the
# FUSE export with qemu-storage-daemon's cache and AIO options, to show what each option changes.
# Writes docs/benchmarks/fuse-write.md.
set -euo pipefail
source "$(dirname "$0")/lib.bash" fuse
RUNS=${RUNS:-3}
MB=${MB:-512}
OUT=$REPO/docs/benchmarks/fuse-write.md

"$BIN" sample-image --size 1G disk.qcow2 > /dev/null
qemu-img convert -O raw disk.qcow2 disk.raw

# One run of `shell`: wall seconds, and the command/unmount/detach/attach phases.
through_tool() {  # mode image
  local start end
  start=$(now)
  "$BIN" shell --attach "$1" --timings "$2" -- sh -c "dd if=/dev/zero of=/big bs=1M count=$MB conv=fsync 2>/dev/null; rm /big" 2> err
  end=$(now)
  echo "wall=$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }') $(grep -o 'timings: .*' err | sed 's/^timings: //')"
}

# The same write on qemu-storage-daemon's FUSE export with extra options on the file node, in a private
# mount namespace; prints the seconds of the fsync'd write.
by_hand() {  # extra-file-options
  cp disk.qcow2 hand.qcow2
  rm -f export; touch export; mkdir -p mnt
  unshare -m --propagation private bash -c '
    set -e
    qemu-storage-daemon --blockdev "driver=file,node-name=file0,filename=hand.qcow2,discard=unmap$1" \
      --blockdev driver=qcow2,node-name=disk0,file=file0,discard=unmap \
      --export type=fuse,id=e,node-name=disk0,mountpoint=$PWD/export,writable=on,allow-other=off > qsd.log 2>&1 &
    qsd=$!
    for _ in $(seq 500); do [ "$(stat -c %d export)" != "$(stat -c %d .)" ] && break; sleep 0.01; done
    loop=$(losetup --show -f -o 1048576 export)
    mount "$loop" mnt
    start=$(date +%s.%N)
    dd if=/dev/zero of=mnt/big bs=1M count='"$MB"' conv=fsync status=none
    end=$(date +%s.%N)
    umount mnt; losetup -d "$loop"; kill -TERM $qsd; wait $qsd || true
    awk -v a="$start" -v b="$end" "BEGIN { print b - a }"' _ "$1"
}

field() { grep -o "$1=[0-9.]*" | cut -d= -f2 | median; }
: > fuse.runs; : > loop.runs
for _ in $(seq "$RUNS"); do
  through_tool fuse disk.qcow2 >> fuse.runs
  through_tool loop disk.raw >> loop.runs
done
VARIANTS=("" ",cache.no-flush=on" ",cache.direct=on,aio=native" ",cache.direct=on,aio=io_uring")
HAND=()
for variant in "${VARIANTS[@]}"; do
  : > hand.runs
  for _ in $(seq "$RUNS"); do by_hand "$variant" >> hand.runs; done
  HAND+=("$(median < hand.runs)")
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

row() {  # label runs-file
  printf '| %s | %.2f | %.2f | %.2f | %.2f | %.2f |\n' "$1" "$(field wall < "$2")" "$(field attach < "$2")" \
    "$(field command < "$2")" "$(field unmount < "$2")" "$(field detach < "$2")"
}
FUSE_CMD=$(field command < fuse.runs); LOOP_CMD=$(field command < loop.runs)
{
  echo "## FUSE + loop vs loop on raw: a ${MB} MiB fsync'd write in the chroot"
  echo
  echo "\`scripts/bench/fuse-write.sh\`: \`qemu-chroot shell --attach MODE --timings IMAGE -- dd if=/dev/zero"
  echo "of=/big bs=1M count=$MB conv=fsync\` on a 1 GiB sample image (qcow2 for fuse, the same disk as raw for"
  echo "loop), median of $RUNS runs each, alternating, seconds. Load average $LOAD_BEFORE before and"
  echo "$LOAD_AFTER after, on 2 cores shared with other engineers' builds and tests: the absolute times"
  echo "are several times those of an idle machine and vary from run to run."
  echo
  echo "| backend | wall | attach | command (the write) | unmount | detach |"
  echo "|---|---|---|---|---|---|"
  row "fuse (qemu-storage-daemon export of the qcow2 + loop)" fuse.runs
  row "loop (loop device over the raw file)" loop.runs
  echo
  echo "**The write on FUSE takes $(ratio "$FUSE_CMD" "$LOOP_CMD")x the time of loop on raw** (target: 1.2x)."
  echo
  echo "The same write without our tool on the FUSE export, qemu-storage-daemon options on the image's"
  echo "\`file\` node, the daemon at normal priority (qemu-chroot runs it at nice -10, docs/attach.md);"
  echo "median of $RUNS, seconds, same run:"
  echo
  echo "| file node options | write | / default |"
  echo "|---|---|---|"
  for i in "${!VARIANTS[@]}"; do
    printf '| %s | %.2f | %s |\n' "${VARIANTS[$i]:-(default: cache.direct=off, aio=threads)}" "${HAND[$i]}" "$(ratio "${HAND[$i]}" "${HAND[0]}")"
  done
} > "$OUT"
cat "$OUT"
