"""structlog set-up: bound context first, ISO UTC times, console on a TTY, JSON otherwise."""

from __future__ import annotations

import logging
import sys

import structlog


def configure(*, level: int = logging.INFO, json: bool | None = None) -> None:
    """Configure structlog once per process. `json=None` picks JSON unless stderr is a TTY."""
    use_json = (not sys.stderr.isatty()) if json is None else json
    renderer: list[structlog.typing.Processor] = (
        [
            # no local variables in tracebacks: they can hold credentials and user data
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
            ),
            structlog.processors.JSONRenderer(),
        ]
        if use_json
        else [structlog.dev.ConsoleRenderer()]
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            *renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    for noisy in ("werkzeug", "botocore", "aiobotocore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # aiodynamo logs every failed credential source with a traceback; the final error is
    # raised to the caller anyway
    logging.getLogger("aiodynamo").setLevel(logging.CRITICAL)
