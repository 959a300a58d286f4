"""DMTCP command lines and files, as pure functions (the contract in `notes/dmtcp.md`)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

_VERSION = re.compile(r"\(DMTCP\)\s+(\S+)")


def coordinator_argv(port_file: Path, ckpt_dir: Path) -> list[str]:
    """A private coordinator on a free port (read it from `port_file`; `ps` shows a wrong one)."""
    return [
        "dmtcp_coordinator",
        "--daemon",
        "--exit-on-last",
        "-p",
        "0",
        "--port-file",
        str(port_file),
        "--ckptdir",
        str(ckpt_dir),
    ]


def launch_argv(port: int, ckpt_dir: Path, command: Sequence[str]) -> list[str]:
    """Runs `command` under DMTCP; the process becomes the app (same pid and exit code).

    Files the job has open are copied into the image's `_files` folder while it is paused
    and written back at their paths on restart, so a file opened for appending resumes
    with exactly the content it had at the checkpoint."""
    return [
        "dmtcp_launch",
        "-j",
        "-p",
        str(port),
        "--ckptdir",
        str(ckpt_dir),
        "--no-gzip",
        "--checkpoint-open-files",
        "--allow-file-overwrite",
        *command,
    ]


def checkpoint_argv(port: int) -> list[str]:
    """Blocks until the images are written (poll for them too: 4.2.0 returns early)."""
    return ["dmtcp_command", "-p", str(port), "-bc"]


def checkpoint_and_kill_argv(port: int) -> list[str]:
    """Checkpoints, then the coordinator kills the job; returns at once (poll for images)."""
    return ["dmtcp_command", "-p", str(port), "-kc"]


def quit_argv(port: int) -> list[str]:
    return ["dmtcp_command", "-p", str(port), "-q"]


def restart_argv(port: int, images: Sequence[Path]) -> list[str]:
    """Restarts from images; run it with the job's sandbox as working directory."""
    return ["dmtcp_restart", "-j", "-p", str(port), *(str(p) for p in images)]


def version_argv() -> list[str]:
    return ["dmtcp_launch", "--version"]


def parse_version(output: str) -> str:
    """`dmtcp_launch (DMTCP) 3.0.0` -> `3.0.0`; otherwise the first line as printed."""
    found = _VERSION.search(output)
    if found:
        return found.group(1)
    lines = output.strip().splitlines()
    return lines[0].strip() if lines else "unknown"


def environment(tmp_dir: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """`base` plus a private DMTCP_TMPDIR and the C locale."""
    return {**(base or {}), "DMTCP_TMPDIR": str(tmp_dir), "LANG": "C", "LC_ALL": "C"}


def images(ckpt_dir: Path, *, since: float | None = None) -> list[Path]:
    """The `ckpt_*.dmtcp` images in `ckpt_dir`; with `since` (a Unix time), only those
    written since then (within 1 s: some file systems keep whole-second times)."""
    found = sorted(ckpt_dir.glob("ckpt_*.dmtcp"))
    if since is None:
        return found
    return [p for p in found if p.stat().st_mtime >= since - 1.0]
