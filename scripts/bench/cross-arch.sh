#!/usr/bin/env bash
# The same provisioner on an amd64 and an arm64 busybox sample image, by `qemu-chroot build`: the cost of
# running the image's programs through qemu-aarch64-static (docs/cross-arch.md). Writes
# docs/benchmarks/cross-arch.md.
#
# The arm64 busybox-static comes from the host's apt sources with `apt-get download` under a temporary
# configuration (own lists, cache and architecture under $CACHE): the host's apt and dpkg are not changed.
set -euo pipefail
command -v qemu-aarch64-static >/dev/null || { echo "needs qemu-user-static (scripts/setup)" >&2; exit 1; }
source "$(dirname "$0")/lib.bash" cross-arch
RUNS=${RUNS:-3}
OUT=docs/benchmarks/cross-arch.md
mkdir -p "$CACHE/apt/lists/partial" "$CACHE/apt/cache/archives/partial"

if [ ! -x "$CACHE/busybox-arm64" ]; then
  APT=(-q -o APT::Architecture=arm64 -o APT::Architectures::=arm64 -o "Dir::State::Lists=$CACHE/apt/lists"
       -o "Dir::Cache=$CACHE/apt/cache" -o Dir::State::status=/dev/null -o APT::Sandbox::User=root)
  apt-get "${APT[@]}" update >/dev/null
  (cd "$CACHE/apt" && rm -f busybox-static_*.deb && apt-get "${APT[@]}" download busybox-static >/dev/null)
  rm -rf "$CACHE/apt/tree"; dpkg-deb -x "$CACHE"/apt/busybox-static_*.deb "$CACHE/apt/tree"
  install -m 755 "$CACHE/apt/tree/bin/busybox" "$CACHE/busybox-arm64"
fi

"$BIN" sample-image --size 256M amd64.qcow2 >/dev/null
"$BIN" sample-image --size 256M --busybox "$CACHE/busybox-arm64" arm64.qcow2 >/dev/null
# Shell work of the kind provisioners do: a loop in the shell, a checksum over files, an archive.
JOB='i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; find / -xdev -type f | xargs md5sum > /sums; tar czf /etc.tgz /etc /bin 2>/dev/null; uname -m'
for arch in amd64 arm64; do
  cat > "$arch.json" <<JSON
{"builders": [{"type": "qemu-chroot", "name": "$arch", "source_image": "$arch.qcow2", "copy_files": [],
  "output_directory": "out-$arch"}],
 "provisioners": [{"type": "shell", "inline": ["$JOB"]}]}
JSON
done

declare -A TOTAL PROVISION
for arch in amd64 arm64; do
  : > "$arch.times"; : > "$arch.provision"
  for i in $(seq "$RUNS"); do
    start=$(now)
    "$BIN" build -force "$arch.json" > "$arch.log" 2>&1
    end=$(now)
    awk -v a="$start" -v b="$end" 'BEGIN {print b - a}' >> "$arch.times"
    grep -o 'provision done in [0-9.]*' "$arch.log" | awk '{print $4}' >> "$arch.provision"
  done
  TOTAL[$arch]=$(median < "$arch.times")
  PROVISION[$arch]=$(median < "$arch.provision")
done
MACHINE=$(grep -o 'aarch64\|x86_64' arm64.log | head -1)
RATIO=$(awk -v a="${PROVISION[amd64]}" -v b="${PROVISION[arm64]}" 'BEGIN {print (a > 0) ? b / a : 0}')

cd "$REPO"
{
  echo "## Cross-architecture: the same provisioner on amd64 and arm64"
  echo
  echo "Two busybox sample images (256 MiB qcow2), one with the host's busybox-static (amd64), one with Debian's"
  echo "busybox-static for arm64, whose commands run through qemu-aarch64-static in a binfmt_misc private to"
  echo "each command (the arm64 build's \`uname -m\` said $MACHINE). The provisioner: a 20000-step shell loop,"
  echo "md5sum of every file, a tar.gz of /etc and /bin. Median of $RUNS runs each, same run."
  echo
  echo "| image | provisioner | whole build |"
  echo "|---|---|---|"
  printf '| amd64 (native) | %.2f s | %.2f s |\n' "${PROVISION[amd64]}" "${TOTAL[amd64]}"
  printf '| arm64 (qemu-aarch64-static) | %.2f s | %.2f s |\n' "${PROVISION[arm64]}" "${TOTAL[arm64]}"
  echo
  printf '**Emulation makes this provisioner %.1fx slower**; attach, mount and writing the output do not change.\n' "$RATIO"
  echo "Expect more for compilers and package installs (apt, dpkg triggers), which are CPU-bound."
} > "$OUT"
cat "$OUT"
