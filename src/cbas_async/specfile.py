"""Spec files: read a `.json` or `.jdl` job spec from disk and check that its input files
exist beside it (JDL goes through `jdl`, JSON straight to `jobs.parse_spec`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from cbas_async.errors import InvalidSpec
from cbas_async.jdl import jdl_to_spec
from cbas_async.jobs import JobSpec, parse_spec


@dataclass(frozen=True, slots=True)
class LoadedSpec:
    """A validated spec and the directory its relative input paths start from."""

    spec: JobSpec
    base_dir: Path


def load_spec_file(path: Path) -> LoadedSpec:
    """Read a `.json` or `.jdl` spec and check its input files exist next to it.

    Raises `InvalidSpec` for a missing or unreadable file, an unknown suffix, an invalid
    spec, or an input file that is not a regular file under the spec's directory.
    """
    suffix = path.suffix.lower()
    if suffix not in (".json", ".jdl"):
        raise InvalidSpec([("", f"{path}: expected a .json or .jdl file, not {suffix!r}")])
    text = _read_text(path)
    spec = parse_spec(text) if suffix == ".json" else jdl_to_spec(text, name=_name_for(path))
    base_dir = path.absolute().parent
    _check_inputs(spec, base_dir)
    return LoadedSpec(spec=spec, base_dir=base_dir)


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise InvalidSpec([("", f"no such file: {path}")]) from None
    except OSError as exc:
        raise InvalidSpec([("", f"cannot read {path}: {exc.strerror}")]) from None
    except UnicodeDecodeError as exc:
        raise InvalidSpec([("", f"{path} is not UTF-8 text: {exc.reason}")]) from None


def _name_for(path: Path) -> str:
    """A valid job name made from the file name, for JDL files that name no job."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", path.stem).lstrip("._-")[:64]
    return name or "jdl-job"


def _check_inputs(spec: JobSpec, base_dir: Path) -> None:
    errors: list[tuple[str, str]] = []
    for index, name in enumerate(spec.input_files):
        file = base_dir / name
        if not file.exists():
            errors.append((f"input_files[{index}]", f"no such file: {file}"))
        elif not file.is_file():
            errors.append((f"input_files[{index}]", f"not a regular file: {file}"))
    if errors:
        raise InvalidSpec(errors)
