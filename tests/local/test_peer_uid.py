"""Who is at the other end of a loopback connection, and the IMDS emulator refusing the
user data and credentials to anyone but the worker's uid."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
from pathlib import Path

import pytest

from cbas_async.hostpath import HOST_PATH
from cbas_async.local.imds_server import ImdsEmulator
from cbas_async.local.peer_uid import caller_is, find_uid, parse_address, peer_uid
from cbas_async.worker.jobuser import as_user, resolve_job_user

LINUX_PROC = pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="no /proc/net/tcp")

TABLE = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1
   1: 0100007F:A2C4 0100007F:1F90 01 00000000:00000000 00:00000000 00000000   999        0 2 1
   2: 0100007F:1F90 0100007F:A2C4 01 00000000:00000000 00:00000000 00000000     0        0 3 1
   3: garbage
   4: ZZ:1 0100007F:1F90 01 00000000:00000000 00:00000000 00000000   5        0 2 1
"""
TABLE6 = """\
  sl  local_address                         remote_address                        st ...
   0: 0000000000000000FFFF00000100007F:A2C5 0000000000000000FFFF00000100007F:1F90 01 \
00000000:00000000 00:00000000 00000000  1000        0 4 1
   1: 00000000000000000000000001000000:A2C6 00000000000000000000000001000000:1F90 01 \
00000000:00000000 00:00000000 00000000  1001        0 5 1
"""


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("0100007F:1F90", ("127.0.0.1", 8080)),
        ("0101A8C0:0050", ("192.168.1.1", 80)),
        ("0000000000000000FFFF00000100007F:A2C5", ("127.0.0.1", 41669)),
        ("00000000000000000000000001000000:0016", ("::1", 22)),
    ],
)
def test_parse_address_reads_the_kernels_byte_order(text: str, address: tuple[str, int]) -> None:
    assert parse_address(text) == address


@pytest.mark.parametrize("text", ["0100:1F90", "XYZ:1", "0100007F"])
def test_parse_address_refuses_what_is_not_an_address(text: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        parse_address(text)


def test_find_uid_picks_the_clients_socket_of_the_connection() -> None:
    server = ("127.0.0.1", 8080)
    assert find_uid(TABLE, ("127.0.0.1", 41668), server) == 999
    assert find_uid(TABLE, server, ("127.0.0.1", 41668)) == 0  # the server's own end
    assert find_uid(TABLE, ("127.0.0.1", 1), server) is None
    assert find_uid(TABLE6, ("::ffff:127.0.0.1", 41669), server) == 1000
    assert find_uid(TABLE6, ("::1", 41670), ("::1", 8080)) == 1001


def test_peer_uid_reads_both_tables_and_tolerates_missing_ones(tmp_path: Path) -> None:
    (tmp_path / "tcp6").write_text(TABLE6)
    assert peer_uid(("127.0.0.1", 41669), ("127.0.0.1", 8080), proc_net=tmp_path) == 1000
    assert peer_uid(("127.0.0.1", 41668), ("127.0.0.1", 8080), proc_net=tmp_path) is None


@LINUX_PROC
def test_a_real_connection_is_owned_by_this_process() -> None:
    with _connected() as (peer, server):
        assert peer_uid(peer, server) == os.geteuid()
        assert caller_is(os.geteuid(), peer, server)
        assert not caller_is(os.geteuid() + 1, peer, server)
    assert not caller_is(os.geteuid(), None, None)


# a client in another process: a token, then the user data and the credentials path
CLIENT = """
import sys, urllib.request, urllib.error
base = sys.argv[1] + "/latest/"
def call(method, path, headers):
    try:
        request = urllib.request.Request(base + path, method=method, headers=headers)
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""
_, token = call("PUT", "api/token", {"X-aws-ec2-metadata-token-ttl-seconds": "60"})
for path in ("user-data", "meta-data//iam/security-credentials/", "meta-data/instance-id"):
    print(call("GET", path, {"X-aws-ec2-metadata-token": token})[0])
"""


@LINUX_PROC
@pytest.mark.skipif(os.geteuid() != 0, reason="only root can run a client as another user")
async def test_the_emulator_refuses_secrets_to_another_uid() -> None:
    user = await asyncio.to_thread(resolve_job_user, euid=0)
    python = shutil.which("python3", path=HOST_PATH)
    assert user is not None
    assert python is not None
    async with ImdsEmulator() as emulator:
        emulator.register("i-aaa", '{"secret": 1}', "us-east-1b")
        endpoint = emulator.endpoint("i-aaa")
        as_root = await _run([python, "-c", CLIENT, endpoint])
        as_job = await _run(as_user([python, "-c", CLIENT, endpoint], user))
    assert as_root == ["200", "404", "200"]  # no credentials here yet, but not refused
    assert as_job == ["403", "403", "200"]


async def _run(argv: list[str]) -> list[str]:
    process = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE)
    out, _ = await process.communicate()
    assert process.returncode == 0
    return out.decode().split()


class _connected:
    """A loopback connection in this process: (client address, server address)."""

    def __enter__(self) -> tuple[tuple[str, int], tuple[str, int]]:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._client = socket.create_connection(self._listener.getsockname())
        self._accepted, _ = self._listener.accept()
        return self._client.getsockname(), self._listener.getsockname()

    def __exit__(self, *exc: object) -> None:
        for sock in (self._accepted, self._client, self._listener):
            sock.close()
