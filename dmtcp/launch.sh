#!/bin/sh
# Run CMD under DMTCP with a private coordinator; images go to CKPT_DIR, uncompressed
# (compress while uploading, off the job's critical path).
# usage: launch.sh CKPT_DIR CMD [ARG...]
set -eu
[ "$#" -ge 2 ] || { echo "usage: $0 CKPT_DIR CMD [ARG...]" >&2; exit 64; }
ckpt_dir=$(cd "$1" && pwd)  # images restore only at the absolute path they were taken at
shift
: "${DMTCP_TMPDIR:=$ckpt_dir/../tmp}"
mkdir -p "$DMTCP_TMPDIR"
export DMTCP_TMPDIR LANG=C LC_ALL=C  # the C locale avoids the _files folder for simple programs
port=$("$(dirname "$0")/coordinator.sh" "$ckpt_dir" "$DMTCP_TMPDIR/coordinator.port")
echo "$port" >"$ckpt_dir/coordinator.port"
exec dmtcp_launch -j -p "$port" --ckptdir "$ckpt_dir" --no-gzip "$@"
