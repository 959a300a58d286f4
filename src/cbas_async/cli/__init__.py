"""The `cbas` command line: parses arguments, runs the command, prints, sets the exit code.

`parser` builds the arguments; `daemons` runs the long-running commands, `jobs` the job
commands, `admin` the deployment's own; `exits` names the exit codes.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping, Sequence

from cbas_async import localenv, logs
from cbas_async.cli import admin, daemons, jobs
from cbas_async.cli.exits import EXIT_CODES, EXIT_INTERRUPTED, EXPECTED
from cbas_async.cli.parser import build_parser
from cbas_async.errors import ConfigError
from cbas_async.settings import Settings


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Entry point of `cbas` and `python -m cbas_async`; returns the exit code."""
    args = build_parser().parse_args(argv)
    env = localenv.effective(os.environ if environ is None else environ)
    # the demo prints its own progress; only warnings from the parts underneath
    logs.configure(level=logging.WARNING if args.command == "demo" else logging.INFO)
    try:
        return _dispatch(args, env)
    except EXPECTED as exc:
        prefix = "configuration: " if isinstance(exc, ConfigError) else ""
        print(f"cbas: {prefix}{exc}", file=sys.stderr)
        return EXIT_CODES[type(exc)]
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _dispatch(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    settings = Settings.from_env(environ)
    command = args.command
    if command in daemons.DAEMONS:
        return daemons.DAEMONS[command](settings, args, environ)
    # an interactive command should say "unreachable" in seconds, not retry for a minute
    settings = settings.replace(aws_retry_s=min(settings.aws_retry_s, 8.0))
    if command in daemons.OFFLINE:
        return daemons.OFFLINE[command](settings, args, environ)
    if command == "interrupt":
        return daemons.run_loop(admin.interrupt(environ, args))
    if command == "fault":
        return daemons.run_loop(admin.fault(environ, args))
    if command == "bootstrap":
        from cbas_async.setup_regions import bootstrap_command

        return daemons.run_loop(
            bootstrap_command(settings, print_policies=args.print_policies, wheel=args.wheel)
        )
    if command == "doctor":
        from cbas_async.doctor import DEFAULT_INSTANCE_TYPES, doctor_command

        types = args.instance_types or DEFAULT_INSTANCE_TYPES
        return daemons.run_loop(doctor_command(settings, instance_types=types, as_json=args.json))
    if command == "teardown":
        from cbas_async.teardown import teardown_command

        return daemons.run_loop(teardown_command(settings, force=args.force))
    if command == "image":
        return daemons.run_loop(admin.image(settings, args))
    if command == "token":
        return daemons.run_loop(admin.token(settings, args))
    return daemons.run_loop(jobs.HANDLERS[command](settings, args))
