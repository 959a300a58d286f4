#!/bin/sh
# Checkpoint the job launched by launch.sh and wait until its images are on disk.
# usage: checkpoint.sh CKPT_DIR
set -eu
[ "$#" -eq 1 ] || { echo "usage: $0 CKPT_DIR" >&2; exit 64; }
ckpt_dir=$1
port=$(cat "$ckpt_dir/coordinator.port")
marker="$ckpt_dir/.checkpoint-requested"
: >"$marker"
dmtcp_command -p "$port" -bc
# DMTCP 4.2.0's -bc returns before the image exists: wait for an image newer than the request
tries=0
until find "$ckpt_dir" -maxdepth 1 -name 'ckpt_*.dmtcp' -newer "$marker" | grep -q .; do
    tries=$((tries + 1))
    [ "$tries" -le 60 ] || { echo "$0: no new image in $ckpt_dir" >&2; exit 1; }
    sleep 1
done
rm -f "$marker"
