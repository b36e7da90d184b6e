"""One transaction per write request, retried when a concurrent request won a race.

Handlers wrapped with ``write`` must be re-runnable: they read the request, look up, act, and the
commit happens here. A unique-constraint race (two identical submissions at once) or a SQLite
lock makes the whole handler run again, where it then sees the winner's row.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError, OperationalError

from server.extensions import db

F = TypeVar("F", bound=Callable[..., Any])
ATTEMPTS = 5


def _retryable(error: Exception) -> bool:
    if isinstance(error, IntegrityError):
        return True
    text = str(getattr(error, "orig", error)).lower()
    return "database is locked" in text or "could not serialize" in text or "deadlock" in text


T = TypeVar("T")


def run(work: Callable[[], T]) -> T:
    """Run ``work`` and commit; on a lost race roll back and run it again."""
    for attempt in range(ATTEMPTS):
        try:
            result = work()
            db.session.commit()
            return result
        except (IntegrityError, OperationalError) as error:
            db.session.rollback()
            if not _retryable(error) or attempt == ATTEMPTS - 1:
                raise
            time.sleep(0.01 * (attempt + 1))
        except BaseException:
            db.session.rollback()
            raise
    raise AssertionError("unreachable")


def write(view: F) -> F:
    """Decorator form of ``run`` for views whose inputs are all in the URL and the cached body."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return run(lambda: view(*args, **kwargs))

    return wrapper  # type: ignore[return-value]
