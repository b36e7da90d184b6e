"""Who is calling: bearer sessions, HTTP Basic (users) and device tokens in the URL."""

from __future__ import annotations

import base64

from flask import g, request

from server.accounts import services
from server.accounts.services import Caller
from server.errors import Problem


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
        user = services.authenticate(email, password)
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
