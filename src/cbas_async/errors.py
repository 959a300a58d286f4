"""The exception hierarchy: every error the product raises on purpose is a `CbasError`."""

from __future__ import annotations


class CbasError(Exception):
    """Base of every error cbas-async raises on purpose."""


class ConfigError(CbasError):
    """A setting is missing or malformed; `variable` names it."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable
        self.problem = problem


class TransientError(CbasError):
    """Worth retrying: throttling, timeouts, an endpoint briefly unreachable."""


class PermanentError(CbasError):
    """Retrying will not help."""


class JobNotFound(PermanentError):
    """No job has this id."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"no job with id {job_id!r}")
        self.job_id = job_id


class InvalidMessage(PermanentError):
    """A message (SNS envelope, ping, IMDS answer) is malformed, forged or too large."""


class InvalidSpec(PermanentError):
    """A job spec or JDL file is invalid. `errors` holds (field, problem) pairs."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        lines = [f"{field}: {problem}" if field else problem for field, problem in errors]
        super().__init__("invalid job spec:\n  " + "\n  ".join(lines))
        self.errors = errors


class IllegalTransition(PermanentError):
    """The state machine forbids moving a job from `current` to `target`."""

    def __init__(self, job_id: str, current: str, target: str) -> None:
        super().__init__(f"job {job_id}: illegal transition {current} -> {target}")
        self.job_id = job_id
        self.current = current
        self.target = target


class StaleWrite(PermanentError):
    """A conditional write lost: the job moved on (other version, state or attempt)."""

    def __init__(self, job_id: str, reason: str) -> None:
        super().__init__(f"job {job_id}: write refused: {reason}")
        self.job_id = job_id
        self.reason = reason


class CloudUnreachable(CbasError):
    """The AWS (or local cloud) endpoint does not answer; `endpoint` names it."""

    def __init__(self, endpoint: str, detail: str) -> None:
        super().__init__(f"cannot reach {endpoint}: {detail}")
        self.endpoint = endpoint


class ApiFailed(CbasError):
    """The REST API refused a request for a reason no other error names; `status` is HTTP's."""

    def __init__(self, url: str, status: int, message: str) -> None:
        super().__init__(f"{url} answered {status}: {message}")
        self.url = url
        self.status = status
        self.message = message
