#!/bin/sh
# Restart a job from the images in CKPT_DIR, with WORKDIR (the job's sandbox) as its cwd.
# usage: restart.sh CKPT_DIR WORKDIR
# dmtcp_restart is used directly: the generated restart script hard-codes the old hostname.
set -eu
[ "$#" -eq 2 ] || { echo "usage: $0 CKPT_DIR WORKDIR" >&2; exit 64; }
ckpt_dir=$(cd "$1" && pwd)
: "${DMTCP_TMPDIR:=$ckpt_dir/../tmp}"
mkdir -p "$DMTCP_TMPDIR"
export DMTCP_TMPDIR LANG=C LC_ALL=C
port=$("$(dirname "$0")/coordinator.sh" "$ckpt_dir" "$DMTCP_TMPDIR/coordinator.port")
echo "$port" >"$ckpt_dir/coordinator.port"
cd "$2"
exec dmtcp_restart -j -p "$port" "$ckpt_dir"/ckpt_*.dmtcp
