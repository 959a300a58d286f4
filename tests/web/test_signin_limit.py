"""The failed sign-in window, as pure code on a fake clock: per address, sliding, bounded."""

from __future__ import annotations

from cbas_async.web.signin_limit import SignInLimiter
from tests.fakes import FakeClock


async def test_addresses_are_counted_apart_and_the_window_slides() -> None:
    clock = FakeClock()
    limiter = SignInLimiter(clock=clock, max_failures=2, window_s=10.0)
    limiter.failed("a")
    await clock.advance(4)
    limiter.failed("a")
    assert limiter.retry_after_s("a") == 6
    assert limiter.retry_after_s("b") is None
    await clock.advance(6)
    assert limiter.retry_after_s("a") is None


def test_only_so_many_addresses_are_remembered() -> None:
    limiter = SignInLimiter(clock=FakeClock(), max_failures=1, max_addresses=2)
    for address in ("a", "b", "c"):
        limiter.failed(address)
    assert limiter.retry_after_s("a") is None  # the least recent was dropped
    assert limiter.retry_after_s("b") == 60
    assert limiter.retry_after_s("c") == 60
