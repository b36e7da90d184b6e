"""Secrets: password hashing and device tokens (pure)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from werkzeug.security import check_password_hash, generate_password_hash

MIN_PASSWORD_LENGTH = 10
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def hash_password(password: str, method: str = "scrypt") -> str:
    """``method`` is werkzeug's ``scrypt[:n:r:p]``; the default costs are werkzeug's current ones."""
    return generate_password_hash(password, method=method)


def verify_password(password_hash: str, password: str) -> bool:
    return check_password_hash(password_hash, password)


def password_problem(password: str) -> str | None:
    """Why a password is refused, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"mật khẩu phải có ít nhất {MIN_PASSWORD_LENGTH} ký tự / at least {MIN_PASSWORD_LENGTH} characters"
    return None


def new_nonce() -> str:
    return secrets.token_hex(16)


def device_token(secret_key: str, actor_id: int, nonce: str) -> str:
    """64 letters and digits, like ODK Central's app-user tokens; recomputable, never stored."""
    mac = hmac.new(secret_key.encode(), f"device:{actor_id}:{nonce}".encode(), hashlib.sha512).digest()
    return "".join(_ALPHABET[b % len(_ALPHABET)] for b in mac)[:64]


def session_token() -> str:
    return base64.b32encode(secrets.token_bytes(40)).decode().rstrip("=")


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()
