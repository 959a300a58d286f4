# cbas worker boot (cloud-init runs this part as root once, at first boot).
# Installs this exact version of cbas-async unless the image has it, writes the job
# descriptor (the user data's JSON part) to a root-only file, creates the job's user and
# its IMDS block, and starts the worker as the systemd unit cbas-worker.service.
# CBAS_INSTANCE_ROOT prefixes every absolute path: empty on EC2 (the local cloud points it
# at the instance's own directory). /etc/cbas/host.env, when the image has one, overrides
# the worker's host settings below.
set -eu
umask 022
ROOT="${CBAS_INSTANCE_ROOT:-}"
OPT="$ROOT/opt/cbas/$CBAS_VERSION"
ETC="$ROOT/etc/cbas"
UNIT="$ROOT/etc/systemd/system/cbas-worker.service"
USER_DATA="$ROOT/var/lib/cloud/instance/user-data.txt"
say() { echo "cbas-boot: $*" >&2; }

# the marker: this version's dist-info in the venv (pip writes it once the install is done)
has_version() {
  [ -x "$OPT/bin/python" ] || return 1
  for found in "$OPT"/lib/python3*/site-packages/cbas_async-"$CBAS_VERSION".dist-info; do
    [ -d "$found" ] && return 0
  done
  return 1
}

find_python() {
  for p in python3.13 python3.12 python3.11 python3; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import sys, venv, ensurepip
sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      command -v "$p"
      return 0
    fi
  done
  return 1
}

install_python() {
  if command -v dnf >/dev/null 2>&1; then
    dnf install -y -q python3.11 python3.11-pip       # Amazon Linux 2023 ships 3.9
  elif command -v apt-get >/dev/null 2>&1; then
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3.12-venv
  else
    say "no dnf or apt-get: cannot install Python >= 3.11"; return 1
  fi
}

# The wheel is fetched by the venv's own botocore (a dependency of cbas-async) with the
# instance role's credentials from IMDS: no aws CLI, no public object, no hand-made signing.
install_cbas() {
  [ -n "$CBAS_WHEEL_KEY" ] || { say "no wheel for $CBAS_VERSION in the bucket: run cbas bootstrap"; return 1; }
  py=$(find_python) || { install_python && py=$(find_python); } || return 1
  rm -rf "$OPT"
  "$py" -m venv "$OPT"
  "$OPT/bin/python" -m pip install -q --disable-pip-version-check botocore
  wheel_dir=$(mktemp -d)
  "$OPT/bin/python" - "$CBAS_BUCKET" "$CBAS_WHEEL_KEY" "$CBAS_REGION" "$CBAS_ENDPOINT_URL" "$wheel_dir" <<'PY'
import hashlib, pathlib, sys, botocore.session
bucket, key, region, endpoint, folder = sys.argv[1:]
s3 = botocore.session.get_session().create_client(
    "s3", region_name=region, endpoint_url=endpoint or None)
body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
if hashlib.sha256(body).hexdigest() != key.split("/")[-2]:
    sys.exit(f"{key}: sha256 does not match")
pathlib.Path(folder, key.split("/")[-1]).write_bytes(body)
PY
  "$OPT/bin/python" -m pip install -q --disable-pip-version-check "$wheel_dir"/*.whl
  rm -rf "$wheel_dir"
  has_version
}

if has_version; then
  say "cbas-async $CBAS_VERSION is on the image"
else
  say "installing cbas-async $CBAS_VERSION"
  install_cbas
fi
# `cbas image build` (image.sh): this version is installed; the rest is each worker's
if [ "${CBAS_INSTALL_ONLY:-0}" = 1 ]; then say "install only: done"; exit 0; fi

if [ -f "$ETC/host.env" ]; then set -a; . "$ETC/host.env"; set +a; fi
mkdir -p "$ETC" "$ROOT/etc/systemd/system" "$ROOT/var/lib/cbas"
(umask 077 && "$OPT/bin/python" -I -S - "$USER_DATA" > "$ETC/job.json" <<'PY'
import email, sys
with open(sys.argv[1], "rb") as raw:
    document = email.message_from_binary_file(raw)
parts = [p for p in document.walk() if p.get_content_type() == "application/json"]
sys.stdout.write(parts[0].get_payload(decode=True).decode())
PY
)
chmod 600 "$ETC/job.json"

if ! id -u cbas-job >/dev/null 2>&1; then
  useradd --system --no-create-home --shell /usr/sbin/nologin cbas-job || say "cannot create user cbas-job"
fi
# the job's uid may not reach IMDS (the instance role's keys); stock AL2023 has no iptables
if ! command -v iptables >/dev/null 2>&1; then
  if command -v dnf >/dev/null 2>&1; then dnf install -y -q iptables-nft || true
  elif command -v apt-get >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q iptables || true
  fi
fi
if command -v iptables >/dev/null 2>&1; then
  rule="OUTPUT -d 169.254.169.254 -m owner --uid-owner cbas-job -j REJECT"
  iptables -C $rule 2>/dev/null || iptables -A $rule || say "cannot block IMDS for cbas-job"
else
  say "no iptables: IMDS is NOT blocked for cbas-job"
fi

IMDS="${CBAS_IMDS_ENDPOINT:-http://169.254.169.254}"
cat > "$UNIT" <<EOF
[Unit]
Description=cbas worker: runs this instance's job attempt
Wants=network-online.target
After=network-online.target
StartLimitIntervalSec=600
StartLimitBurst=5
FailureAction=poweroff

[Service]
Type=simple
Environment="CBAS_HTTP_HOST=${CBAS_HTTP_HOST:-0.0.0.0}"
Environment="CBAS_WORKER_ADVERTISE_HOST=${CBAS_WORKER_ADVERTISE_HOST:-}"
Environment="CBAS_WORKER_POWEROFF=${CBAS_WORKER_POWEROFF:-true}"
Environment="CBAS_WORKER_DIR=${CBAS_WORKER_DIR:-$ROOT/var/lib/cbas/jobs}"
Environment="CBAS_HOME=${CBAS_HOME:-$ROOT/var/lib/cbas}"
Environment="CBAS_IMDS_ENDPOINT=$IMDS"
Environment="AWS_EC2_METADATA_SERVICE_ENDPOINT=${AWS_EC2_METADATA_SERVICE_ENDPOINT:-$IMDS}"
Environment="AWS_METADATA_SERVICE_TIMEOUT=5"
Environment="AWS_METADATA_SERVICE_NUM_ATTEMPTS=3"
Environment="CBAS_DMTCP_BIN=${CBAS_DMTCP_BIN:-}"
Environment="CBAS_SPEED=${CBAS_SPEED:-1}"
ExecStart=$OPT/bin/python -m cbas_async worker
Restart=on-failure
RestartSec=1

[Install]
WantedBy=multi-user.target
EOF
systemctl daemon-reload
systemctl enable --now cbas-worker.service
say "cbas-worker.service started"
