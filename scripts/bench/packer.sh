#!/usr/bin/env bash
# The same template built by `packer build` (Debian's packer 1.6.6 driving our plugin) and by the
# standalone `qemu-chroot build`, on the same sample image. Writes docs/benchmarks/packer.md.
# The plugin is found through PACKER_PLUGIN_PATH and HOME points into the bench directory, so the
# user's ~/.packer.d is never touched.
set -euo pipefail
command -v packer >/dev/null || { echo "packer not installed (scripts/setup installs Debian's packer)" >&2; exit 1; }
source "$(dirname "$0")/lib.bash" packer
PLUGIN=$(bench_binary packer-plugin-qemu-chroot)
RUNS=${RUNS:-3}
OUT=docs/benchmarks/packer.md
mkdir -p plugins home
cp "$PLUGIN" plugins/packer-builder-qemu-chroot
export PACKER_PLUGIN_PATH=$PWD/plugins HOME=$PWD/home PACKER_CONFIG_DIR=$PWD/home CHECKPOINT_DISABLE=1

"$BIN" sample-image --size 256M base.qcow2 >/dev/null
cat > t.json <<'JSON'
{"builders": [{"type": "qemu-chroot", "name": "bench", "source_image": "base.qcow2", "copy_files": [],
               "output_directory": "out", "image_name": "image.qcow2"}],
 "provisioners": [{"type": "shell", "inline": ["echo hi > /x", "uname -a"]},
                  {"type": "file", "source": "t.json", "destination": "/root/t.json"}]}
JSON

run() { # $1 = label, rest = command
  local label=$1; shift
  : > "$label.times"
  for i in $(seq "$RUNS"); do
    rm -rf out
    start=$(now)
    "$@" > "$label.log" 2>&1 || { cat "$label.log" >&2; exit 1; }
    end=$(now)
    awk -v a="$start" -v b="$end" 'BEGIN {print b - a}' >> "$label.times"
  done
  median < "$label.times"
}
PACKER=$(run packer packer build -force t.json)
OURS=$(run cli "$BIN" build -force t.json)
OVERHEAD=$(awk -v a="$OURS" -v b="$PACKER" 'BEGIN {print b - a}')

cd "$REPO"
{
  echo "## Packer plugin: packer build vs qemu-chroot build"
  echo
  echo "The same template (shell inline + file upload) on the same sample image (256 MiB qcow2, GPT, ext4"
  echo "busybox root), median of $RUNS runs each, same run. \`packer build\` is Debian's packer 1.6.6 starting"
  echo "our Swift plugin; the provisioners then run through Packer's RPC (yamux + msgpack) into our chroot."
  echo
  echo "| how | median wall time |"
  echo "|---|---|"
  printf '| `packer build` (plugin) | %.2f s |\n' "$PACKER"
  printf '| `qemu-chroot build` (standalone) | %.2f s |\n' "$OURS"
  echo
  printf 'Packer and its RPC add %.2f s per build.\n' "$OVERHEAD"
} > "$OUT"
cat "$OUT"
