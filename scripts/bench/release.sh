#!/usr/bin/env bash
# What `qemu-chroot build`'s "release image" phase (unmount with FITRIM, loop detach, qemu-storage-daemon
# stop) costs against the dirty data it must write, side by side in the same run: a build that writes
# 1.5 GiB and leaves it dirty; the same build with `sync` timed by hand at the end of its provisioner (the
# time the dirty data takes to write), whose release then has nothing left to flush; a build that writes
# almost nothing. Release minus that sync is what release costs beyond writing the data.
# Writes docs/benchmarks/release.md.
set -euo pipefail
source "$(dirname "$0")/lib.bash" release
MIB=${MIB:-1536}
OUT=$REPO/docs/benchmarks/release.md
# Seconds of phase $2 in the -json report $1.
phase() { python3 -c 'import json,sys; b=json.load(open(sys.argv[1]))["builds"][0]
print("%.2f" % (next(p["milliseconds"] for p in b["phases"] if p["name"] == sys.argv[2]) / 1000))' "$1" "$2"; }
# Host-wide Dirty + Writeback in MiB, as the provisioner printed it from /proc/meminfo.
dirty() { awk '/(Dirty|Writeback):/ { kb += $(NF - 1) } END { printf "%.0f", kb / 1024 }' "$1"; }
mibs() { awk -v m="$1" -v s="$2" 'BEGIN { printf "%.0f", (s > 0 ? m / s : 0) }'; }
# MiB the image's root filesystem still had to write: what dd wrote less what ext4 had written to its
# device by then (session_write_kbytes; journal and metadata make this a slight underestimate).
pending() { awk -v mib="$2" '/session_write_kbytes/ { kb = $NF } END { v = mib - kb / 1024; printf "%.0f", v < 0 ? 0 : v }' "$1"; }

"$BIN" sample-image --size 2G base.qcow2 > /dev/null
# What the root filesystem still has to write, printed at the end of each provisioner.
cat > report.sh <<'SH'
grep -E '^(Dirty|Writeback):' /proc/meminfo
dev=$(awk '$5 == "/" { for (i = 6; i < NF; i++) if ($i == "-") d = $(i + 2) } END { print d }' /proc/self/mountinfo)
echo "session_write_kbytes $(cat /sys/fs/ext4/${dev#/dev/}/session_write_kbytes)"
SH
echo "dd if=/dev/zero of=/big bs=1M count=$MIB 2>/dev/null" > write.sh
echo "busybox time sync" > sync.sh
echo "echo hi > /x" > small.sh
build() {  # name, provisioner scripts
  local scripts
  scripts=$(printf '"%s", ' "${@:2}")
  cat > "$1.json" <<JSON
{"builders": [{"type": "qemu-chroot", "name": "$1", "source_image": "base.qcow2", "output_directory": "out-$1",
  "copy_files": []}],
 "provisioners": [{"type": "shell", "scripts": [${scripts%, }]}]}
JSON
  "$BIN" build -force -json "$1.json" > "$1.report" 2> "$1.log" || { cat "$1.log" >&2; exit 1; }
  rm -rf "out-$1"
}
build big write.sh report.sh
build synced write.sh report.sh sync.sh
build small small.sh report.sh

SYNC=$(grep -o 'real.*' synced.log | tail -1 | awk '{ m = $2; sub("m", "", m); s = $3; sub("s", "", s); printf "%.2f", m * 60 + s }')
BIG=$(phase big.report "release image"); SYNCED=$(phase synced.report "release image"); SMALL=$(phase small.report "release image")
{
  echo "## Release: flush against the dirty data"
  echo
  echo "\`scripts/bench/release.sh\`: the *release image* phase of \`qemu-chroot build -json\` (FUSE path: unmount"
  echo "with FITRIM, loop detach, qemu-storage-daemon stop) on a 2 GiB sample image, seconds, one run each."
  echo "*dirty* is the host's Dirty + Writeback (/proc/meminfo, host-wide) at the end of the provisioner."
  echo "Load average before: $LOAD_BEFORE; after: $(cut -d' ' -f1-3 /proc/loadavg), on $(nproc) cores."
  echo
  echo "| build | root fs still to write | host dirty | flushed by | time | MiB/s |"
  echo "|---|---|---|---|---|---|"
  echo "| writes $MIB MiB, left dirty | $(pending big.log "$MIB") MiB | $(dirty big.log) MiB | release | $BIG s | $(mibs "$(pending big.log "$MIB")" "$BIG") |"
  echo "| the same, then \`sync\` by hand | $(pending synced.log "$MIB") MiB | $(dirty synced.log) MiB | \`sync\` in the chroot | $SYNC s | $(mibs "$(pending synced.log "$MIB")" "$SYNC") |"
  echo "| (its release, after that sync) | 0 MiB | | release | $SYNCED s | |"
  echo "| writes a few bytes | $(pending small.log 0) MiB | $(dirty small.log) MiB | release | $SMALL s | |"
  echo
  echo "Release of the dirty build takes **$(ratio "$BIG" "$SYNC")x** the by-hand \`sync\` of the same build's"
  echo "data; with nothing left to flush it still takes $SYNCED s (after \`sync\`) and $SMALL s (small build):"
  echo "its fixed part: FITRIM of the whole filesystem (each free extent becomes a discard through loop,"
  echo "FUSE and qcow2), unmount, detach, the daemon's stop; what makes it ~1 s after a large write is not yet"
  echo "measured. The overlay is exported with \`cache.no-flush=on\` (docs/attach.md), so neither"
  echo "release nor \`sync\` waits for the overlay to reach the host's disk, and the image's writeback during the provisioner"
  echo "is no longer held up by host flushes. The load varies a lot between runs here; compare rows of one run. Before that change (same script, load 10):"
  echo "release 8.55 s with 1080 MiB still to write, \`sync\` by hand 4.44 s for 1019 MiB."
} > "$OUT"
cat "$OUT"
