"""Checkpoint archives: tar + zstd round trips, snapshots by hard link, corrupt input."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest
import zstandard

from cbas_async.worker.checkpoint.archive import (
    CorruptArchive,
    fingerprint,
    link_snapshot,
    pack,
    unpack,
)


def _tree(root: Path) -> dict[str, bytes | str | None]:
    found: dict[str, bytes | str | None] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            found[rel] = "-> " + os.readlink(path)
        elif path.is_dir():
            found[rel] = None
        else:
            found[rel] = path.read_bytes()
    return found


async def _packed(root: Path, dest: Path) -> Path:
    archive = dest / "state.tar.zst"
    with archive.open("wb") as out:
        async for chunk in pack(root):
            out.write(chunk)
    return archive


async def test_pack_unpack_round_trip(tmp_path: Path) -> None:
    source = tmp_path / "src"
    (source / "sub" / "empty").mkdir(parents=True)
    (source / "state.json").write_text('{"next": 5}')
    (source / "sub" / "big.bin").write_bytes(os.urandom(3 * 1024 * 1024 + 7))
    (source / "link").symlink_to("state.json")
    (source / "run.sh").write_text("#!/bin/sh\n")
    (source / "run.sh").chmod(0o755)
    archive = await _packed(source, tmp_path)
    dest = tmp_path / "dest"
    (dest / "stale").mkdir(parents=True)
    unpack(archive, dest)
    assert _tree(dest) == _tree(source)
    assert os.access(dest / "run.sh", os.X_OK)


async def test_an_empty_directory_packs(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    archive = await _packed(tmp_path / "empty", tmp_path)
    unpack(archive, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize("body", [b"garbage", zstandard.compress(b"not a tar" * 100)])
def test_garbage_is_a_corrupt_archive(tmp_path: Path, body: bytes) -> None:
    archive = tmp_path / "bad.tar.zst"
    archive.write_bytes(body)
    with pytest.raises(CorruptArchive):
        unpack(archive, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


async def test_a_truncated_archive_is_corrupt(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "data").write_bytes(os.urandom(200_000))
    archive = await _packed(tmp_path / "src", tmp_path)
    archive.write_bytes(archive.read_bytes()[:-5000])
    with pytest.raises(CorruptArchive):
        unpack(archive, tmp_path / "out")


def test_members_escaping_the_directory_are_refused(tmp_path: Path) -> None:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo("../escape.txt")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    archive = tmp_path / "evil.tar.zst"
    archive.write_bytes(zstandard.compress(raw.getvalue()))
    with pytest.raises(CorruptArchive):
        unpack(archive, tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists()


def test_a_link_snapshot_keeps_the_state_as_it_was(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "state.json").write_text("old")
    link_snapshot(state, tmp_path / "snap")
    before = fingerprint(tmp_path / "snap")
    assert fingerprint(state) == before
    (state / "state.json.tmp").write_text("new")
    (state / "state.json.tmp").replace(state / "state.json")  # the app contract
    assert (tmp_path / "snap" / "state.json").read_text() == "old"
    assert fingerprint(state) != before
