"""Password logins with throttling shared by every app server (rules in ``throttle``). Never commits.

The caller (``server.http.auth.password_login``) runs ``attempt`` in one transaction and commits it
even when the password was wrong, so that the failure is counted; it then answers 401 or 429.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Generic, TypeVar

from flask import current_app

from server.accounts import queries, throttle
from server.accounts.models import User
from server.accounts.services import audit, authenticate
from server.accounts.throttle import ACCOUNT, ADDRESS, Lock
from server.errors import Problem
from server.timeutil import as_utc, utcnow

T = TypeVar("T")


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """Exactly one of: the result of a good login, a lock, or a plain failure (both None)."""

    value: T | None = None
    lock: Lock | None = None
    ok: bool = False


def _window() -> timedelta:
    return timedelta(minutes=current_app.config["LOGIN_WINDOW_MINUTES"])


def _limits() -> dict[str, int]:
    return {ACCOUNT: current_app.config["LOGIN_MAX_FAILURES"], ADDRESS: current_app.config["LOGIN_MAX_FAILURES_PER_IP"]}


def current_lock(email: str, address: str) -> Lock | None:
    """TH001/TH002: the account's lock, else the address's, else None."""
    now, window = utcnow(), _window()
    for kind, key in ((ACCOUNT, throttle.account_key(email)), (ADDRESS, address)):
        limit = _limits()[kind]
        if limit <= 0:
            continue
        times = [as_utc(t) for t in queries.recent_login_failures(kind, key, now - window, limit)]
        seconds = throttle.lock_seconds(times, limit, window, now)
        if seconds is not None:
            return Lock(kind, seconds)
    return None


def record_failure(email: str, address: str) -> Lock | None:
    """Count one failure for the account and the address; audit and return the lock it causes, if any."""
    now, key = utcnow(), throttle.account_key(email)
    queries.delete_login_failures_before(now - _window())
    queries.add_login_failure(ACCOUNT, key, now)
    queries.add_login_failure(ADDRESS, address, now)
    lock = current_lock(email, address)
    if lock is not None:
        user = queries.user_by_email(key)
        audit("user.login.lockout", user.actor if user else None, "actor", user.actor_id if user else None,
              {"email": key, "ip": address, "lockedBy": lock.kind, "retryAfter": lock.retry_after})
    return lock


def attempt(email: str, password: str, address: str, then: Callable[[User], T]) -> Outcome[T]:
    """TH003: a locked account or address is not tried; TH004: a good login clears the account."""
    lock = current_lock(email, address)
    if lock is not None:
        return Outcome(lock=lock)
    try:
        user = authenticate(email, password)
    except Problem:
        return Outcome(lock=record_failure(email, address))
    key = throttle.account_key(email)
    if queries.recent_login_failures(ACCOUNT, key, utcnow() - _window(), 1):  # no write on every Basic request
        queries.delete_login_failures(ACCOUNT, key)
    return Outcome(value=then(user), ok=True)
