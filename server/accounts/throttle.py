"""Login throttling rules (pure): when a run of failed logins locks an account or a client address.

TH001 Failures are counted per account (the normalised e-mail, known or not, so that the answers do not
      tell which accounts exist) and per client address, within a sliding window.
TH002 ``limit`` failures within the window lock; the lock lasts until the oldest of the ``limit`` most
      recent failures leaves the window, so that at most ``limit`` guesses fit in any window.
TH003 While locked, no password is checked and nothing is counted.
TH004 A successful login clears the account's failures (not the address's).
TH005 The client address is the socket's, or, behind ``hops`` trusted proxies, the entry of
      X-Forwarded-For that the outermost trusted proxy added.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

ACCOUNT, ADDRESS = "account", "ip"
KEY_LENGTH = 320


@dataclass(frozen=True)
class Lock:
    kind: str  # account | ip
    retry_after: int  # seconds

    @property
    def minutes(self) -> int:
        return max(1, math.ceil(self.retry_after / 60))


def account_key(email: str) -> str:
    return (email or "").strip().lower()[:KEY_LENGTH]


def lock_seconds(failures: Sequence[datetime], limit: int, window: timedelta, now: datetime) -> int | None:
    """Seconds until a login may be tried again (TH002), or None when not locked.

    ``failures`` are failure times in any order; only those within the window count."""
    if limit <= 0:
        return None
    recent = sorted((t for t in failures if t > now - window), reverse=True)
    if len(recent) < limit:
        return None
    return max(1, math.ceil((recent[limit - 1] + window - now).total_seconds()))


def client_address(remote_addr: str | None, forwarded_for: str | None, hops: int) -> str:
    """TH005: with ``hops`` proxies each appending to X-Forwarded-For, the client is ``hops`` from the end;
    anything further left was sent by the client itself and is not trusted."""
    if hops > 0 and forwarded_for:
        entries = [part.strip() for part in forwarded_for.split(",") if part.strip()]
        if len(entries) >= hops:
            return entries[-hops][:KEY_LENGTH]
    return (remote_addr or "unknown")[:KEY_LENGTH]
