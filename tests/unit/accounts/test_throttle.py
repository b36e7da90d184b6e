"""The login throttling rules (TH00x in server/accounts/throttle.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from server.accounts.throttle import Lock, account_key, client_address, lock_seconds

NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=15)


def _ago(*minutes: float) -> list[datetime]:
    return [NOW - timedelta(minutes=m) for m in minutes]


def test_lock_seconds__fewer_than_limit__not_locked():  # TH002
    assert lock_seconds(_ago(1, 2), 3, WINDOW, NOW) is None


def test_lock_seconds__limit_reached__until_the_limit_th_latest_leaves_the_window():  # TH002
    assert lock_seconds(_ago(1, 2, 10), 3, WINDOW, NOW) == 5 * 60
    assert lock_seconds(_ago(10, 1, 2, 3), 3, WINDOW, NOW) == 12 * 60  # order does not matter


def test_lock_seconds__failures_outside_the_window__ignored():  # TH001
    assert lock_seconds(_ago(1, 2, 15, 20), 3, WINDOW, NOW) is None


def test_lock_seconds__zero_limit__throttling_off():
    assert lock_seconds(_ago(1, 2, 3), 0, WINDOW, NOW) is None


def test_lock_minutes__partial_minute__rounded_up():
    assert Lock("account", 61).minutes == 2 and Lock("account", 1).minutes == 1


def test_account_key__case_and_spaces__one_account():  # TH001
    assert account_key("  Admin@Test.VN ") == account_key("admin@test.vn") == "admin@test.vn"


def test_client_address__no_proxy__socket_address_even_if_forwarded_is_sent():  # TH005
    assert client_address("203.0.113.7", "10.0.0.1", 0) == "203.0.113.7"


def test_client_address__one_proxy__last_forwarded_entry_not_the_spoofed_first():  # TH005
    assert client_address("127.0.0.1", "10.0.0.1, 203.0.113.7", 1) == "203.0.113.7"
    assert client_address("127.0.0.1", "10.0.0.1, 203.0.113.7, 192.168.1.2", 2) == "203.0.113.7"


def test_client_address__forwarded_shorter_than_hops__socket_address():
    assert client_address("127.0.0.1", "", 1) == "127.0.0.1"
    assert client_address(None, None, 1) == "unknown"
