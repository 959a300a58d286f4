"""Checkpoint archives: a directory as tar + zstd, packed as an async stream, unpacked safely.

Packing never holds the whole image in memory: files are read in chunks and compressed
off the event loop, so an upload can start before the last file is read.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import stat
import tarfile
from collections.abc import AsyncGenerator, AsyncIterator
from pathlib import Path

import aiofiles
import structlog
import zstandard

from cbas_async.errors import PermanentError

log = structlog.get_logger(__name__)

READ_BYTES = 1024 * 1024
_BLOCK = tarfile.BLOCKSIZE
Fingerprint = tuple[tuple[str, int, int, int], ...]


class CorruptArchive(PermanentError):
    """An archive that does not unpack: truncated, not zstd, not tar, or unsafe paths."""


def listing(root: Path) -> list[Path]:
    """Every entry under `root` (relative), parents before children, in a stable order."""
    found: list[Path] = []
    for top, dirs, files in os.walk(root):
        dirs.sort()
        base = Path(top).relative_to(root)
        found += [base / name for name in dirs]
        found += [base / name for name in sorted(files)]
    return sorted(found, key=lambda p: p.parts)


def fingerprint(root: Path) -> Fingerprint:
    """Names, inodes, sizes and mtimes: equal fingerprints mean nothing changed."""
    entries = []
    for rel in listing(root):
        try:
            st = (root / rel).lstat()
        except FileNotFoundError:
            continue
        entries.append((rel.as_posix(), st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(entries)


def link_snapshot(source: Path, dest: Path) -> None:
    """Mirror `source` into a fresh `dest` with hard links (copies across file systems).

    The app contract writes state by temp file + rename, so a linked file never changes
    after the link is made: the snapshot holds the state as of now. Blocking.
    """
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    for rel in listing(source):
        src, dst = source / rel, dest / rel
        try:
            if src.is_symlink():
                dst.symlink_to(os.readlink(src))
            elif src.is_dir():
                dst.mkdir(exist_ok=True)
            else:
                _link_or_copy(src, dst)
        except FileNotFoundError:
            continue  # a temp file renamed away since the listing


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


async def pack(root: Path, *, level: int = 3) -> AsyncGenerator[bytes, None]:
    """`root` as a zstd-compressed tar stream (member names relative to `root`)."""
    compressor = zstandard.ZstdCompressor(level=level).compressobj()
    pending = bytearray()
    async for raw in _tar_stream(root):
        pending += raw
        if len(pending) >= READ_BYTES:
            out = await asyncio.to_thread(compressor.compress, bytes(pending))
            pending.clear()
            if out:
                yield out
    tail = compressor.compress(bytes(pending)) + compressor.flush()
    yield tail


async def _tar_stream(root: Path) -> AsyncIterator[bytes]:
    written = 0
    for rel, st in await asyncio.to_thread(_stats, root):
        async for block in _member(root / rel, rel.as_posix(), st):
            written += len(block)
            yield block
    end = 2 * _BLOCK
    end += -(written + end) % tarfile.RECORDSIZE
    yield bytes(end)


def _stats(root: Path) -> list[tuple[Path, os.stat_result]]:
    found = []
    for rel in listing(root):
        try:
            found.append((rel, (root / rel).lstat()))
        except FileNotFoundError:
            continue  # gone since the listing
    return found


async def _member(path: Path, name: str, st: os.stat_result) -> AsyncIterator[bytes]:
    info = tarfile.TarInfo(name)
    info.mode = stat.S_IMODE(st.st_mode)
    info.mtime = int(st.st_mtime)
    if stat.S_ISDIR(st.st_mode):
        info.type = tarfile.DIRTYPE
        yield _header(info)
    elif stat.S_ISLNK(st.st_mode):
        info.type = tarfile.SYMTYPE
        info.linkname = os.readlink(path)
        yield _header(info)
    elif stat.S_ISREG(st.st_mode):
        async for block in _file_member(path, info):
            yield block


async def _file_member(path: Path, info: tarfile.TarInfo) -> AsyncIterator[bytes]:
    try:
        handle = await aiofiles.open(path, "rb")
    except FileNotFoundError:
        return
    try:
        info.size = os.fstat(handle.fileno()).st_size
        yield _header(info)
        left = info.size
        while left > 0:
            chunk = await handle.read(min(READ_BYTES, left))
            if not chunk:
                log.warning("checkpoint_file_shrank", name=info.name, missing_bytes=left)
                chunk = bytes(left)
            left -= len(chunk)
            yield chunk
    finally:
        await handle.close()
    yield bytes(-info.size % _BLOCK)


def _header(info: tarfile.TarInfo) -> bytes:
    return info.tobuf(format=tarfile.PAX_FORMAT, encoding="utf-8", errors="surrogateescape")


def unpack(archive: Path, dest: Path) -> None:
    """Extract a tar + zstd archive into an emptied `dest`; raises `CorruptArchive`.

    Uses tarfile's "data" filter: no absolute paths, no escaping links. Blocking.
    """
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    try:
        with (
            archive.open("rb") as raw,
            zstandard.ZstdDecompressor().stream_reader(raw) as reader,
            tarfile.open(fileobj=reader, mode="r|") as tar,
        ):
            tar.extractall(dest, filter="data")
    except (tarfile.TarError, zstandard.ZstdError, EOFError) as exc:
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        raise CorruptArchive(f"{archive.name}: {exc}") from exc
