"""The EC2 tags that tie an instance to its deployment and to a job's attempt."""

from __future__ import annotations

from typing import Any


def tags(deployment: str, job_id: str, attempt: int) -> list[dict[str, str]]:
    return [
        {"Key": "cbas:deployment", "Value": deployment},
        {"Key": "cbas:job_id", "Value": job_id},
        {"Key": "cbas:attempt", "Value": str(attempt)},
        {"Key": "Name", "Value": f"cbas-{job_id}-{attempt}"},
    ]


def tag_value(instance: dict[str, Any], key: str) -> str | None:
    for tag in instance.get("Tags", []):
        if tag.get("Key") == key:
            return str(tag.get("Value"))
    return None
