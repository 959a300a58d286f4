"""The exit codes of `cbas`, and the errors that end a command with one of them."""

from __future__ import annotations

from cbas_async.errors import (
    ApiFailed,
    CloudUnreachable,
    ConfigError,
    InvalidSpec,
    JobNotFound,
    StaleWrite,
)

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_NOT_FOUND = 0, 1, 2, 3, 4
EXIT_INTERRUPTED = 130

EXIT_CODES: dict[type[Exception], int] = {
    InvalidSpec: EXIT_USAGE,
    ConfigError: EXIT_USAGE,
    CloudUnreachable: EXIT_UNREACHABLE,
    JobNotFound: EXIT_NOT_FOUND,
    StaleWrite: EXIT_FAILED,
    ApiFailed: EXIT_FAILED,
}
EXPECTED = (InvalidSpec, ConfigError, CloudUnreachable, JobNotFound, StaleWrite, ApiFailed)
