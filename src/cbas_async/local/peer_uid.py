"""Which local user is at the other end of a TCP connection on this machine.

The kernel lists every TCP socket of the network namespace in `/proc/net/tcp` and
`/proc/net/tcp6`, with its addresses and the uid that owns it: the client's socket of a
connection has the client's address as its local one and ours as its remote one. The IMDS
emulator uses it to answer credentials to the worker only, as EC2's owner-match firewall
rule does for a job's uid on an instance.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

PROC_NET = Path("/proc/net")
TABLES = ("tcp", "tcp6")

Address = tuple[str, int]


def parse_address(text: str) -> Address:
    """`0100007F:1F90` -> ("127.0.0.1", 8080): the kernel prints each 32-bit word of the
    address in host (little-endian) byte order, the port in big-endian hex. An IPv4 address
    mapped into IPv6 is given as IPv4."""
    host, _, port = text.partition(":")
    raw = bytes.fromhex(host)
    if len(raw) not in (4, 16):
        raise ValueError(f"not an address: {text!r}")
    packed = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return normal(ipaddress.ip_address(packed)), int(port, 16)


def normal(address: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    parsed = ipaddress.ip_address(address)
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        parsed = parsed.ipv4_mapped
    return str(parsed)


def find_uid(table: str, local: Address, remote: Address) -> int | None:
    """The uid owning the socket from `local` to `remote` in one table's text, or None."""
    wanted = ((normal(local[0]), local[1]), (normal(remote[0]), remote[1]))
    for line in table.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 8:
            continue
        try:
            if (parse_address(fields[1]), parse_address(fields[2])) == wanted:
                return int(fields[7])
        except ValueError:
            continue
    return None


def peer_uid(peer: Address, server: Address, proc_net: Path = PROC_NET) -> int | None:
    """The uid of the process that connected from `peer` to our `server` address; None if
    no table lists that connection. Blocking (reads the tables)."""
    for name in TABLES:
        try:
            text = (proc_net / name).read_text()
        except OSError:
            continue
        uid = find_uid(text, peer, server)
        if uid is not None:
            return uid
    return None


def caller_is(uid: int, peer: Address | None, server: Address | None) -> bool:
    """Whether the caller at `peer` runs as `uid`. Where the kernel lists no sockets (not
    Linux) nothing can be told, and nothing is refused: the job runs as the worker there."""
    if not (PROC_NET / "tcp").exists():
        return True
    if peer is None or server is None:
        return False
    return peer_uid(peer, server) == uid
