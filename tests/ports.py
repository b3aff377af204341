"""Free TCP ports for servers a test starts in another process.

A port the kernel hands out for ``bind(("127.0.0.1", 0))`` lies in the ephemeral range
(``/proc/sys/net/ipv4/ip_local_port_range``, 32768-60999 by default), where any outgoing
connection on the host - a consumer's own connection to PostgreSQL, say - may take it between
the probe and the server's bind. Ports are therefore drawn below that range, where only a
listener can hold them (CI once failed on exactly this race: "127.0.0.1:47582 is in use").
"""

from __future__ import annotations

import random
import socket
from contextlib import ExitStack
from pathlib import Path

LOWEST = 10_000
RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def ephemeral_low() -> int:
    """The first port of the kernel's ephemeral range (32768 where it cannot be read)."""
    try:
        return int(RANGE_FILE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


def free_ports(n: int = 1) -> int:
    """The first of ``n`` consecutive ports below the ephemeral range that are free now.

    Raises AssertionError when 200 random tries found none."""
    high = ephemeral_low() - n
    for _ in range(200):
        first = random.randrange(LOWEST, high)
        try:
            with ExitStack() as stack:
                for port in range(first, first + n):
                    stack.enter_context(socket.socket()).bind(("127.0.0.1", port))
        except OSError:
            continue
        return first
    raise AssertionError(f"no {n} consecutive free ports in {LOWEST}-{high + n - 1}")
