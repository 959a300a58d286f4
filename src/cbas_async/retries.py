"""The retry policy for AWS calls, in one place: how many tries, and how long they can wait.

The AWS clients' own retries are the only retries of an AWS call. botocore (S3, SQS, SNS,
EC2) runs in its standard mode with `total_max_attempts` from the profile; aiodynamo
(DynamoDB) gets a retry config with the same number of tries and the same backoff. No layer
above wraps a store, S3, SNS or EC2 call in another retry loop, so one failing call makes
exactly `attempts` requests, never a product of layers. (A move that loses a race is not a
failure: `JobWriter` re-reads and decides again, and the master's scheduler relaunches at
its next tick.) What nothing below retries keeps a retry of its own: the instance metadata
service over plain HTTP, and a download whose body breaks off after the response began
(`worker/retry.py`).

The backoff is botocore's: before try k+1, a random wait up to min(2**(k-1), 20) seconds.
Worst case per call, in backoff alone:

- daemon (master, worker, local cloud): 8 tries, 1+2+4+8+16+20+20 = 71 s (about 35 s
  expected). botocore's cap of 20 s per wait is fixed, so 7 tries (51 s) would be the most
  under a minute; 8 keeps a daemon riding out outages about as long as before, when
  botocore was asked for 8 retries (9 tries) and aiodynamo retried for 60 s;
- interactive (the user commands): 3 tries, 1+2 = 3 s.

Each try also has its own timeouts (connect 5 s, read 30 s: above SQS's 20 s long poll), so
a call to an endpoint that accepts connections and never answers can take
attempts x 35 s + backoff: 351 s (daemon), 108 s (interactive). DynamoDB calls also stop
at `CBAS_AWS_RETRY_S` (60 s; the same setting selects the profile). botocore's retry quota
can stop retries earlier when a client sees many failures in a row.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterable, Iterable
from dataclasses import dataclass

from aiodynamo.models import RetryConfig, RetryTimeout

MAX_BACKOFF_S = 20.0  # botocore's standard mode cap on one wait
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 30.0  # above SQS's 20 s long poll
INTERACTIVE_BELOW_S = 30.0  # a retry budget under this is a user command's


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How many requests one AWS call may make."""

    name: str
    attempts: int

    def max_wait_s(self, try_number: int) -> float:
        """The longest backoff before try `try_number + 1` (1-based), as botocore's."""
        return min(2.0 ** (try_number - 1), MAX_BACKOFF_S)

    @property
    def worst_backoff_s(self) -> float:
        return sum(self.max_wait_s(k) for k in range(1, self.attempts))

    @property
    def worst_case_s(self) -> float:
        """Backoff plus every try timing out."""
        return self.worst_backoff_s + self.attempts * (CONNECT_TIMEOUT_S + READ_TIMEOUT_S)

    def botocore_retries(self) -> dict[str, object]:
        """The `retries` of an aiobotocore `AioConfig`."""
        return {"mode": "standard", "total_max_attempts": self.attempts}

    def dynamo_retry(self, time_limit_s: float) -> RetryConfig:
        """aiodynamo's throttle config: the same tries and backoff, stopped at `time_limit_s`."""
        return PolicyRetry(time_limit_secs=time_limit_s, policy=self)


DAEMON = RetryPolicy("daemon", attempts=8)
INTERACTIVE = RetryPolicy("interactive", attempts=3)


def policy_for(aws_retry_s: float) -> RetryPolicy:
    """The profile a process runs with: daemons ride out an outage of most of a minute;
    user commands say "unreachable" within seconds (`cli` lowers their budget)."""
    return INTERACTIVE if aws_retry_s < INTERACTIVE_BELOW_S else DAEMON


@dataclass(frozen=True)
class PolicyRetry(RetryConfig):
    """aiodynamo retries by time alone; this also stops after the policy's tries.

    aiodynamo waits after every failed try, the last one included, before giving up: the
    wait after the last try is 0."""

    policy: RetryPolicy = DAEMON

    def delays(self) -> Iterable[float]:
        for k in range(1, self.policy.attempts):
            yield random.random() * self.policy.max_wait_s(k)
        yield 0.0

    async def attempts(self) -> AsyncIterable[None]:
        """aiodynamo's tries; once they are spent, `RetryTimeout`, on which aiodynamo raises
        the last try's error (a loop that merely ends makes it raise `BrokenThrottleConfig`)."""
        async for attempt in super().attempts():
            yield attempt
        raise RetryTimeout()
