from __future__ import annotations

from server.accounts.device_setup import collect_settings, qr_payload, read_qr_payload
from server.accounts.permissions import can
from server.accounts.tokens import device_token, hash_password, password_problem, verify_password


def test_device_token__deterministic_per_secret_actor_nonce():
    token = device_token("s", 1, "n")
    assert len(token) == 64 and token.isalnum()
    assert token == device_token("s", 1, "n")
    assert token != device_token("s", 1, "m") != device_token("t", 1, "n")


def test_password__hashed_with_scrypt_and_verified():
    hashed = hash_password("correct horse battery", "scrypt:1024:8:1")
    assert hashed.startswith("scrypt:")
    assert verify_password(hashed, "correct horse battery")
    assert not verify_password(hashed, "wrong")


def test_password_policy__short__refused():
    assert password_problem("short") is not None
    assert password_problem("long enough one") is None


def test_collect_qr__round_trips_settings():
    settings = collect_settings("http://h/v1/key/t/projects/1", "Rà soát", "Máy 1")
    assert read_qr_payload(qr_payload(settings)) == settings


def test_permissions__enumerator_never_reviews_field_key_only_submits():
    assert not can("enumerator", "submission.review")
    assert can("verifier", "submission.review")
    assert can("field_key", "submission.create") and not can("field_key", "submission.read")
    assert can("admin", "anything.at.all")
