# cbas image build: runs before the worker boot script (boot.sh), which installs this
# version of cbas-async and, with CBAS_INSTALL_ONLY=1, exits right after. When everything
# installed, the instance cleans cloud-init's per-instance state (so each worker booted
# from the image runs its own user data) and powers off; `cbas image build` waits for the
# stop, then calls CreateImage. On a failure it stays up: its console output says why.
set -eu
ROOT="${CBAS_INSTANCE_ROOT:-}"
say() { echo "cbas-image: $*" >&2; }
finish() {
  status=$?
  if [ "$status" -ne 0 ]; then
    say "FAILED (exit $status): the instance stays up for its console output"
    return
  fi
  say "installed: powering off for CreateImage"
  if command -v cloud-init >/dev/null 2>&1; then cloud-init clean --logs || true; fi
  poweroff
}
trap finish EXIT

# DMTCP from source at a pinned commit: the commit id is the checksum of the whole tree,
# checked after the checkout. The worker finds it through /etc/cbas/host.env.
DMTCP_REPOSITORY=https://github.com/dmtcp/dmtcp.git
DMTCP_COMMIT=2bef5cf8c5f83268b6fc0638aaa8d0f83a190926
DMTCP_PREFIX=/opt/dmtcp
install_dmtcp() {
  if command -v dnf >/dev/null 2>&1; then
    dnf install -y -q git gcc gcc-c++ make
  elif command -v apt-get >/dev/null 2>&1; then
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q git build-essential
  fi
  src=$(mktemp -d)
  git clone -q "$DMTCP_REPOSITORY" "$src"
  git -C "$src" checkout -q "$DMTCP_COMMIT"
  [ "$(git -C "$src" rev-parse HEAD)" = "$DMTCP_COMMIT" ] || { say "DMTCP checkout mismatch"; return 1; }
  (cd "$src" && ./configure -q --prefix="$ROOT$DMTCP_PREFIX" && make -j"$(nproc)" && make install)
  rm -rf "$src"
  "$ROOT$DMTCP_PREFIX/bin/dmtcp_launch" --version >/dev/null
  mkdir -p "$ROOT/etc/cbas"
  echo "CBAS_DMTCP_BIN=$DMTCP_PREFIX/bin" >> "$ROOT/etc/cbas/host.env"
  say "DMTCP $DMTCP_COMMIT installed in $DMTCP_PREFIX"
}

if [ "${CBAS_WITH_DMTCP:-0}" = 1 ]; then install_dmtcp; fi
