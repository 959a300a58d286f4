"""Failed sign-ins, limited per client address: after `max_failures` refused tokens within
`window_s`, the address gets 429 with Retry-After until the oldest failure leaves the
window, and its requests are not even checked (so guessing costs no DynamoDB reads).

The address is the TCP peer (`request.remote`): behind a proxy every client shares the
proxy's address, so put the limit in the proxy there. Memory is bounded: at most
`max_addresses` are tracked, the least recently failing dropped first. Pure: the clock is
injected.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque

from cbas_async.clock import Clock


class SignInLimiter:
    """Counts failed sign-ins per address in a sliding window."""

    def __init__(
        self,
        *,
        clock: Clock,
        max_failures: int = 10,
        window_s: float = 60.0,
        max_addresses: int = 10_000,
    ) -> None:
        self._clock = clock
        self._max = max_failures
        self._window_s = window_s
        self._max_addresses = max_addresses
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after_s(self, address: str) -> int | None:
        """Whole seconds until `address` may try again; None when it may now."""
        recent = self._recent(address)
        if len(recent) < self._max:
            return None
        return max(1, math.ceil(recent[0] + self._window_s - self._clock.monotonic()))

    def failed(self, address: str) -> None:
        recent = self._recent(address)
        recent.append(self._clock.monotonic())
        self._failures[address] = recent
        self._failures.move_to_end(address)
        while len(self._failures) > self._max_addresses:
            self._failures.popitem(last=False)

    def _recent(self, address: str) -> deque[float]:
        recent = self._failures.get(address, deque())
        horizon = self._clock.monotonic() - self._window_s
        while recent and recent[0] <= horizon:
            recent.popleft()
        if not recent:
            self._failures.pop(address, None)
        return recent
