"""Who is calling: bearer sessions, HTTP Basic (users) and device tokens in the URL."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import TypeVar

from flask import Response, after_this_request, current_app, g, request

from server.accounts import login, services, throttle
from server.accounts.models import User
from server.accounts.services import Caller
from server.errors import Problem
from server.http import transaction

T = TypeVar("T")


def client_address() -> str:
    return throttle.client_address(request.remote_addr, request.headers.get("X-Forwarded-For"),
                                   current_app.config["TRUSTED_PROXY_HOPS"])


def password_login(email: str, password: str, then: Callable[[User], T]) -> T:
    """Every password login (web form, POST /v1/sessions, HTTP Basic): throttled, in its own transaction,
    which is committed even when the password is wrong so that the failure counts on every app server.
    Wrong: 401 (auth_failed); locked: 429 (login_locked) with Retry-After."""
    address = client_address()
    outcome = transaction.run(lambda: login.attempt(email, password, address, then))
    if outcome.lock is not None:
        seconds = outcome.lock.retry_after

        @after_this_request
        def _retry_after(response: Response) -> Response:
            response.headers["Retry-After"] = str(seconds)
            return response

        raise Problem("login_locked", minutes=outcome.lock.minutes, retryAfter=seconds)
    if not outcome.ok:
        raise Problem("auth_failed")
    return outcome.value  # type: ignore[return-value]


def caller_from_headers() -> Caller | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        caller = services.session_caller(header[7:].strip())
        if caller is None:
            raise Problem("auth_failed")
        return caller
    if header.startswith("Basic "):
        try:
            email, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError) as error:
            raise Problem("auth_failed") from error
        user = password_login(email, password, lambda found: found)
        return Caller(user.actor, user.role)
    cookie = request.cookies.get("session_token")
    if cookie:
        return services.session_caller(cookie)
    return None


def current_caller() -> Caller:
    """The authenticated caller, or 403 as ODK Central answers anonymous requests."""
    caller = g.get("caller")
    if caller is None:
        caller = caller_from_headers()
        g.caller = caller
    if caller is None:
        raise Problem("forbidden")
    return caller


def device_caller(token: str) -> Caller:
    """A bad or revoked token is 403, not 401, so that Collect does not prompt for a password."""
    found = services.device_caller(token)
    if found is None:
        raise Problem("forbidden")
    caller, key = found
    g.caller = caller
    g.field_key = key
    return caller
