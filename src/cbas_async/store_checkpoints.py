"""A job's checkpoint pointers on its item: the latest and the one before, moved only
forward in (attempt, seq) and only by the attempt that took them."""

from __future__ import annotations

from aiodynamo.errors import ConditionalCheckFailed
from aiodynamo.expressions import F, UpdateExpression

from cbas_async.errors import StaleWrite
from cbas_async.records import CheckpointPointer
from cbas_async.store_reads import JobReads


class CheckpointPointers(JobReads):
    """Records and drops checkpoint pointers with conditional writes."""

    async def record_checkpoint(self, job_id: str, pointer: CheckpointPointer) -> None:
        """Make `pointer` the latest checkpoint, keeping the previous one.

        Fenced by the pointer's attempt; refuses to go backwards in (attempt, seq).
        """
        record = await self.get(job_id)
        current = record.checkpoint
        if current is not None and (current.attempt, current.seq) >= (pointer.attempt, pointer.seq):
            raise StaleWrite(job_id, "checkpoint is not newer than the stored one")
        condition = F("attempt").equals(pointer.attempt)
        if current is None:
            condition = condition & F("checkpoint").does_not_exist()
        else:
            condition = condition & F("checkpoint", "seq").equals(current.seq)
            condition = condition & F("checkpoint", "attempt").equals(current.attempt)
        change = F("checkpoint").set(pointer.to_item())
        if current is not None:
            change = change & F("checkpoint_prev").set(current.to_item())
        try:
            await self._db.update_item(self._jobs, {"job_id": job_id}, change, condition=condition)
        except ConditionalCheckFailed as exc:
            raise await self._stale(job_id, "attempt changed or a newer checkpoint landed") from exc

    async def drop_checkpoint(self, job_id: str, bad: CheckpointPointer) -> None:
        """Forget a checkpoint found corrupt, falling back to the previous one."""
        record = await self.get(job_id)
        if record.checkpoint != bad:
            return
        prev = record.checkpoint_prev
        change: UpdateExpression = (
            F("checkpoint").set(prev.to_item()) & F("checkpoint_prev").remove()
            if prev
            else F("checkpoint").remove()
        )
        condition = F("checkpoint", "seq").equals(bad.seq) & F("checkpoint", "attempt").equals(
            bad.attempt
        )
        try:
            await self._db.update_item(self._jobs, {"job_id": job_id}, change, condition=condition)
        except ConditionalCheckFailed:
            return  # someone else moved it on already
