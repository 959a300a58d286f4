"""The sandbox layout and its guard against path traversal."""

from __future__ import annotations

from pathlib import Path

import pytest

from cbas_async.aws import Clients
from cbas_async.errors import InvalidSpec
from cbas_async.sandbox import Sandbox, inside, safe_relative


@pytest.mark.parametrize(
    "name",
    ["", "/etc/passwd", "../x", "a/../../b", "a/./b", "a//b", "a\\b", "x\x00y", ".", "a/"],
)
def test_unsafe_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidSpec):
        safe_relative(name)


def test_symlink_out_of_the_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "link").symlink_to(tmp_path)
    with pytest.raises(InvalidSpec):
        inside(tmp_path / "base", "link/secret")
    assert inside(tmp_path / "base", "ok/file") == (tmp_path / "base" / "ok" / "file").resolve()


async def test_inputs_outputs_and_logs_layout(clients: Clients, tmp_path: Path) -> None:
    await clients.s3.create_bucket(Bucket="sandbox-one")
    sandbox = Sandbox(s3=clients.s3, bucket="sandbox-one")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text("A")
    await sandbox.upload_inputs("j-1", tmp_path / "in", ["a.txt"])
    assert await sandbox.read("jobs/j-1/input/a.txt") == b"A"
    got = await sandbox.download_area("j-1", "input", tmp_path / "work")
    assert [p.read_text() for p in got] == ["A"]
    missing = await sandbox.upload_outputs("j-1", tmp_path / "work", ["a.txt", "nope.txt"])
    assert missing == ["nope.txt"]
    for attempt, seq in [(2, 0), (1, 1), (1, 0)]:
        await sandbox.put_log_chunk("j-1", attempt, "stdout", seq, f"{attempt}.{seq}".encode())
    chunks = await sandbox.log_chunks("j-1")
    assert [(c.attempt, c.seq) for c in chunks] == [(1, 0), (1, 1), (2, 0)]


async def test_a_hostile_key_in_s3_cannot_escape_on_download(
    clients: Clients, tmp_path: Path
) -> None:
    await clients.s3.create_bucket(Bucket="sandbox-two")
    await clients.s3.put_object(
        Bucket="sandbox-two", Key="jobs/j-1/output/../../../escape", Body=b"x"
    )
    sandbox = Sandbox(s3=clients.s3, bucket="sandbox-two")
    with pytest.raises(InvalidSpec):
        await sandbox.download_area("j-1", "output", tmp_path / "dest")
    assert not (tmp_path / "escape").exists()
