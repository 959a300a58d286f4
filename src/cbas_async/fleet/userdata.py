"""The user data of a worker instance: a cloud-init MIME multipart document with two parts.

- `text/x-shellscript`: `boot.sh` (package data) behind a header naming this version, the
  bucket and the key of its wheel. cloud-init runs it once, as root, at first boot.
- `application/json`: the job descriptor (`messages.UserData`), which holds no secret.

`descriptor_text` gives the worker the JSON part back (bare JSON, as older masters sent,
is accepted too). EC2 refuses user data over 16 KB; `document` refuses to build one.
"""

from __future__ import annotations

import email
import json
import shlex
from dataclasses import dataclass
from email.encoders import encode_7or8bit
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from importlib.resources import files

from cbas_async import __version__
from cbas_async.errors import InvalidMessage, PermanentError
from cbas_async.messages import UserData

MAX_USER_DATA_BYTES = 16 * 1024  # EC2's limit, before base64
SCRIPT_TYPE = "text/x-shellscript"
DESCRIPTOR_TYPE = "application/json"
BOUNDARY = "==cbas-user-data=="  # fixed: the same attempt always gets the same bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class BootTarget:
    """What the boot script installs: this version, from this wheel in the bucket (None
    when no wheel was uploaded: then only an image that has the version can boot)."""

    version: str = __version__
    wheel_key: str | None = None


def boot_script(descriptor: UserData, target: BootTarget) -> str:
    """The shell part: variables naming what to install, then `boot.sh`."""
    values = {
        "CBAS_VERSION": target.version,
        "CBAS_BUCKET": descriptor.bucket,
        "CBAS_WHEEL_KEY": target.wheel_key or "",
        "CBAS_REGION": descriptor.region,
        "CBAS_ENDPOINT_URL": descriptor.endpoint_url or "",
    }
    header = "".join(f"{name}={shlex.quote(value)}\n" for name, value in values.items())
    body = files("cbas_async.fleet").joinpath("boot.sh").read_text()
    return f"#!/bin/sh\n{header}{body}"


def document(descriptor: UserData, target: BootTarget) -> str:
    """The cloud-init document for one attempt; `PermanentError` if EC2 would refuse it."""
    message = MIMEMultipart("mixed", boundary=BOUNDARY)
    script = MIMEText(boot_script(descriptor, target), "x-shellscript", "us-ascii")
    script.add_header("Content-Disposition", "attachment", filename="cbas-boot.sh")
    ascii_json = json.dumps(
        json.loads(descriptor.encode()), separators=(",", ":")
    )  # non-ASCII as \u escapes
    job = MIMEApplication(ascii_json.encode(), "json", _encoder=encode_7or8bit)
    job.add_header("Content-Disposition", "attachment", filename="cbas-job.json")
    message.attach(script)
    message.attach(job)
    text = message.as_string()
    if len(text.encode()) > MAX_USER_DATA_BYTES:
        raise PermanentError(
            f"user data of job {descriptor.job_id} is {len(text.encode())} bytes, "
            f"over EC2's {MAX_USER_DATA_BYTES}"
        )
    return text


def descriptor_text(user_data: str) -> str:
    """The job descriptor's JSON from the instance's user data; `InvalidMessage` if none."""
    if user_data.lstrip().startswith("{"):
        return user_data
    found = _part(user_data, DESCRIPTOR_TYPE)
    if found is None:
        raise InvalidMessage("user data has no job descriptor part (application/json)")
    return found


def _part(user_data: str, content_type: str) -> str | None:
    for part in email.message_from_string(user_data).walk():
        if part.get_content_type() != content_type:
            continue
        payload = part.get_payload(decode=True)
        try:
            return payload.decode() if isinstance(payload, bytes) else ""
        except UnicodeDecodeError as exc:
            raise InvalidMessage(f"user data: its {content_type} part is not text") from exc
    return None


def shell_part(user_data: str) -> str | None:
    """The `text/x-shellscript` part, as cloud-init runs it; None when there is none."""
    return _part(user_data, SCRIPT_TYPE)
