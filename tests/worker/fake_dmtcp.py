"""Stand-ins for the DMTCP tools, to test the driver's plumbing on hosts without DMTCP.

They log every command line to $FAKE_DMTCP_LOG and behave as the notes describe (port
file, images named per coordinator, `-bc` and `-kc` writing an image), except that an "image" only
holds the program's argv: `dmtcp_restart` runs it again, and the program resumes from
the state it keeps in $CBAS_CHECKPOINT_DIR, which the checkpoint carries along.
"""

from __future__ import annotations

from pathlib import Path

TOOLS = {
    "dmtcp_coordinator": r"""
echo "dmtcp_coordinator $*" >>"$FAKE_DMTCP_LOG"
port_file= ckpt_dir=
while [ "$#" -gt 0 ]; do
    case "$1" in
        --port-file) port_file=$2; shift 2 ;;
        --ckptdir) ckpt_dir=$2; shift 2 ;;
        *) shift ;;
    esac
done
port=$((20000 + $$ % 10000))
echo "$ckpt_dir" >"$DMTCP_TMPDIR/fake-ckptdir-$port"
echo "$port" >"$port_file"
""",
    "dmtcp_launch": r"""
if [ "${1:-}" = "--version" ]; then
    echo "dmtcp_launch (DMTCP) ${FAKE_DMTCP_VERSION:-9.9.9}"
    echo "License LGPLv3+"
    exit 0
fi
echo "dmtcp_launch $*" >>"$FAKE_DMTCP_LOG"
port=
while [ "$#" -gt 0 ]; do
    case "$1" in
        -j|--no-gzip|--checkpoint-open-files|--allow-file-overwrite) shift ;;
        -p) port=$2; shift 2 ;;
        --ckptdir) shift 2 ;;
        *) break ;;
    esac
done
: >"$DMTCP_TMPDIR/fake-argv-$port"
for arg in "$@"; do printf '%s\n' "$arg" >>"$DMTCP_TMPDIR/fake-argv-$port"; done
exec "$@"
""",
    "dmtcp_command": r"""
echo "dmtcp_command $*" >>"$FAKE_DMTCP_LOG"
port=$2
if [ "$3" = "-bc" ] || [ "$3" = "-kc" ]; then  # -kc: the worker kills the job after
    ckpt_dir=$(cat "$DMTCP_TMPDIR/fake-ckptdir-$port")
    cp "$DMTCP_TMPDIR/fake-argv-$port" "$ckpt_dir/ckpt_fake_$port.tmp"
    mv "$ckpt_dir/ckpt_fake_$port.tmp" "$ckpt_dir/ckpt_fake_$port.dmtcp"
fi
""",
    "dmtcp_restart": r"""
echo "dmtcp_restart $* cwd=$(pwd)" >>"$FAKE_DMTCP_LOG"
port=
while [ "$#" -gt 0 ]; do
    case "$1" in
        -j) shift ;;
        -p) port=$2; shift 2 ;;
        *) break ;;
    esac
done
cp "$1" "$DMTCP_TMPDIR/fake-argv-$port"
set --
while IFS= read -r line; do set -- "$@" "$line"; done <"$DMTCP_TMPDIR/fake-argv-$port"
exec "$@"
""",
}


def install(directory: Path) -> Path:
    """Write the stand-ins into `directory` (to give workers as CBAS_DMTCP_BIN); returns it."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, body in TOOLS.items():
        tool = directory / name
        tool.write_text("#!/bin/sh\nset -eu\n" + body.lstrip("\n"))
        tool.chmod(0o755)
    return directory
