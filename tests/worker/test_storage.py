"""Checkpoint storage against moto: upload, pointer fencing, fallback, pruning."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cbas_async.clock import SystemClock
from cbas_async.errors import StaleWrite
from cbas_async.records import CheckpointPointer
from cbas_async.s3io import list_keys
from cbas_async.worker.checkpoint.storage import CheckpointStorage
from tests.worker.helpers import LocalCloud


def _storage(cloud: LocalCloud, job_id: str, attempt: int) -> CheckpointStorage:
    return CheckpointStorage(
        store=cloud.store,
        sandbox=cloud.sandbox,
        job_id=job_id,
        attempt=attempt,
        method="app",
        clock=SystemClock(),
    )


def _state(root: Path, text: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "state.txt").write_text(text)
    return root


def _accept_all(pointer: CheckpointPointer) -> bool:
    return True


async def _keys(cloud: LocalCloud, job_id: str) -> list[str]:
    prefix = cloud.sandbox.prefix(job_id, "checkpoints")
    return await list_keys(cloud.clients.s3, cloud.resources.bucket, prefix)


async def test_save_then_restore_round_trip(cloud: LocalCloud, tmp_path: Path) -> None:
    job_id = await cloud.submit({"name": "t", "command": ["true"]})
    storage = _storage(cloud, job_id, 1)
    big = _state(tmp_path / "a", "one")
    (big / "image.bin").write_bytes(os.urandom(12 * 1024 * 1024))  # multipart
    pointer = await storage.save(big, extra={"k": "v"})
    assert (pointer.attempt, pointer.seq, pointer.method) == (1, 1, "app")
    assert pointer.key.endswith("/checkpoints/1-1/state.tar.zst")
    assert pointer.size_bytes > 12 * 1024 * 1024
    assert pointer.extra["k"] == "v"
    assert float(pointer.extra["duration_s"]) >= 0  # the measured cost, for the broker
    record = await cloud.store.get(job_id)
    assert record.checkpoint == pointer
    restored = await storage.restore(tmp_path / "out", tmp_path, _accept_all)
    assert restored == pointer
    assert (tmp_path / "out" / "image.bin").read_bytes() == (big / "image.bin").read_bytes()


async def test_only_the_newest_two_are_kept(cloud: LocalCloud, tmp_path: Path) -> None:
    job_id = await cloud.submit({"name": "t", "command": ["true"]})
    storage = _storage(cloud, job_id, 1)
    for n in range(4):
        await storage.save(_state(tmp_path / "s", f"v{n}"), extra={})
    record = await cloud.store.get(job_id)
    assert record.checkpoint is not None
    assert record.checkpoint_prev is not None
    assert (record.checkpoint.seq, record.checkpoint_prev.seq) == (4, 3)
    keys = await _keys(cloud, job_id)
    assert sorted(keys) == sorted([record.checkpoint.key, record.checkpoint_prev.key])


@pytest.mark.parametrize("damage", ["corrupt", "missing"])
async def test_restore_falls_back_when_the_newest_is_bad(
    cloud: LocalCloud, tmp_path: Path, damage: str
) -> None:
    job_id = await cloud.submit({"name": "t", "command": ["true"]})
    storage = _storage(cloud, job_id, 1)
    older = await storage.save(_state(tmp_path / "s", "older"), extra={})
    newest = await storage.save(_state(tmp_path / "s", "newest"), extra={})
    bucket = cloud.resources.bucket
    if damage == "corrupt":
        await cloud.clients.s3.put_object(Bucket=bucket, Key=newest.key, Body=b"x")
    else:
        await cloud.clients.s3.delete_object(Bucket=bucket, Key=newest.key)
    restored = await _storage(cloud, job_id, 2).restore(tmp_path / "out", tmp_path, _accept_all)
    assert restored == older
    assert (tmp_path / "out" / "state.txt").read_text() == "older"
    record = await cloud.store.get(job_id)
    assert (record.checkpoint, record.checkpoint_prev) == (older, None)


async def test_nothing_usable_means_starting_fresh(cloud: LocalCloud, tmp_path: Path) -> None:
    job_id = await cloud.submit({"name": "t", "command": ["true"]})
    storage = _storage(cloud, job_id, 1)
    for text in ("a", "b"):
        pointer = await storage.save(_state(tmp_path / "s", text), extra={})
        await cloud.clients.s3.delete_object(Bucket=cloud.resources.bucket, Key=pointer.key)
    assert await storage.restore(tmp_path / "out", tmp_path, _accept_all) is None
    assert (await cloud.store.get(job_id)).checkpoint is None
    assert await storage.restore(tmp_path / "out", tmp_path, _accept_all) is None


async def test_an_incompatible_checkpoint_is_kept_but_not_used(
    cloud: LocalCloud, tmp_path: Path
) -> None:
    job_id = await cloud.submit({"name": "t", "command": ["true"]})
    pointer = await _storage(cloud, job_id, 1).save(_state(tmp_path / "s", "a"), extra={})
    storage = _storage(cloud, job_id, 2)
    assert await storage.restore(tmp_path / "out", tmp_path, lambda p: False) is None
    assert (await cloud.store.get(job_id)).checkpoint == pointer


async def test_a_stale_attempt_cannot_move_the_pointer(cloud: LocalCloud, tmp_path: Path) -> None:
    job_id = await cloud.submit({"name": "t", "command": ["true"]})
    old = _storage(cloud, job_id, 1)
    first = await old.save(_state(tmp_path / "s", "a"), extra={})
    await cloud.requeue(job_id)  # attempt 2 owns the job now
    with pytest.raises(StaleWrite):
        await old.save(_state(tmp_path / "s", "b"), extra={})
    record = await cloud.store.get(job_id)
    assert (record.checkpoint, record.checkpoint_prev) == (first, None)
    newer = await _storage(cloud, job_id, 2).save(_state(tmp_path / "s", "c"), extra={})
    assert (await cloud.store.get(job_id)).checkpoint == newer


async def test_a_restarted_worker_numbers_after_its_attempt(
    cloud: LocalCloud, tmp_path: Path
) -> None:
    job_id = await cloud.submit({"name": "t", "command": ["true"]})
    first = await _storage(cloud, job_id, 1).save(_state(tmp_path / "s", "a"), extra={})
    again = _storage(cloud, job_id, 1)
    again.continue_after(first)
    assert (await again.save(_state(tmp_path / "s", "b"), extra={})).seq == 2
