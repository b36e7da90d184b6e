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


# Passwords long enough to pass the length rule that still head every leaked-password list, and the
# Vietnamese ones officials are known to pick (mật khẩu, tên tỉnh, số điện thoại mẫu). Compared after
# lower-casing and dropping spaces, so "Mat Khau 123" is caught as well.
COMMON_PASSWORDS = frozenset("""
1234567890 0123456789 12345678910 123456789a 123456789q 1234567890a 1234567890q 0987654321 9876543210
1111111111 0000000000 1122334455 1234512345 1qaz2wsx3edc qwertyuiop qwertyuiop123 qwerty1234 qwerty12345
asdfghjkl1 asdfghjkl123 zxcvbnm123 1q2w3e4r5t 1q2w3e4r5t6y q1w2e3r4t5 a1b2c3d4e5 abc1234567 abcd123456
abcdefghij abcdefgh12 password12 password123 password1234 passw0rd123 p@ssw0rd123 p@ssword123
iloveyou12 iloveyou123 princess12 sunshine12 football12 baseball12 welcome123 welcome1234 letmein123
admin12345 admin123456 administrator changeme123 trustno1234 dragon1234 monkey1234 master1234
matkhau123 matkhau1234 matkhaumoi matkhau@123 matkhaumanh anhyeuem123 emyeuanh123 yeuemnhieu vietnam123
vietnam1234 vietnam@123 hanoi12345 saigon12345 bacninh123 bacninh2026 bacgiang123 hongheo123 canngheo123
hongheo2026 rasoat2026 rasoathongheo 1234567890vn 123123123a 123qweasd123
""".split())


def password_problem(password: str, email: str | None = None) -> str | None:
    """Why a password is refused, or None: too short, too common, or the account's own e-mail."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"mật khẩu phải có ít nhất {MIN_PASSWORD_LENGTH} ký tự / at least {MIN_PASSWORD_LENGTH} characters"
    folded = "".join(password.split()).casefold()
    if folded in COMMON_PASSWORDS or len(set(folded)) <= 2:
        return "mật khẩu quá phổ biến, dễ đoán / this password is too common and easy to guess"
    if email:
        address = email.strip().casefold()
        if folded in {"".join(address.split()), address.partition("@")[0]}:
            return "mật khẩu không được trùng với email / the password must not be the e-mail address"
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
