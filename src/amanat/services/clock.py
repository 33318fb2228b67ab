"""One clock for the services, in its two time bases, each used for what it measures.

- Chain time (`chain_time`): the chain's clock, the time a transaction sent now runs at. Every
  rule the contracts enforce is judged by it: timelocks, proposal expiry, maturities, lock-ups,
  KYC expiry, auction and DvP deadlines, record dates. On the embedded chain it runs on between
  blocks and jumps with `amanat node advance-time`; it is not the latest block's time, which
  stands still while nothing is mined.
- Wall time (`wall_time`): when a person or a job did something off chain: requests filed and
  decided, documents uploaded, institutions registered, reconciliation runs, signed tree heads.
  It never decides an on-chain rule. (Sign-in sessions, throttling and the audit trail keep the
  system's time in the store layer: security never follows a simulated clock.)

Both are read here and nowhere else in services/, so a test can move the chain's clock (via
chain/) or inject a wall clock and see every service follow.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from amanat.chain.client import Chain


def system_time() -> datetime:
    return datetime.now(UTC)


class Clock:
    def __init__(self, chain: Chain, wall: Callable[[], datetime] = system_time) -> None:
        self.chain = chain
        self.wall = wall

    def chain_time(self) -> int:
        """Seconds since the epoch on the chain's clock (see the module's docstring)."""
        return self.chain.now()

    def wall_time(self) -> datetime:
        """The time of day, timezone-aware UTC."""
        return self.wall()
