#!/bin/sh
# Start a private DMTCP coordinator for one job and print its port.
# usage: coordinator.sh CKPT_DIR PORT_FILE
# Never rely on the default port 7779: two jobs on one host would share it. The port that
# `ps` shows is wrong; the real one is in PORT_FILE.
set -eu
[ "$#" -eq 2 ] || { echo "usage: $0 CKPT_DIR PORT_FILE" >&2; exit 64; }
ckpt_dir=$1
port_file=$2
rm -f "$port_file"
dmtcp_coordinator --daemon --exit-on-last -p 0 --port-file "$port_file" --ckptdir "$ckpt_dir"
tries=0
while [ ! -s "$port_file" ]; do
    tries=$((tries + 1))
    [ "$tries" -le 10 ] || { echo "$0: no port in $port_file" >&2; exit 1; }
    sleep 1
done
cat "$port_file"
