"""The password policy (server/accounts/tokens.password_problem): length, common passwords, the e-mail."""

from __future__ import annotations

import pytest

from server.accounts.tokens import COMMON_PASSWORDS, MIN_PASSWORD_LENGTH, password_problem


def test_password_policy__nine_characters__refused_with_both_languages():
    problem = password_problem("a" * 4 + "bcdef")
    assert problem is not None and "ít nhất" in problem and "at least" in problem


@pytest.mark.parametrize("password", ["1234567890", "Password123", "Mat Khau 123", "QWERTYUIOP", "vietnam@123"])
def test_password_policy__common__refused(password):
    problem = password_problem(password)
    assert problem is not None and "phổ biến" in problem and "common" in problem


def test_password_policy__one_or_two_repeated_characters__refused():
    assert password_problem("aaaaaaaaaaaa") is not None
    assert password_problem("abababababab") is not None


@pytest.mark.parametrize(("password", "email"), [("Canbo.Xa@BacNinh.vn", "canbo.xa@bacninh.vn"),
                                                 ("canbo.xa.07210", "canbo.xa.07210@bacninh.vn")])
def test_password_policy__the_email_or_its_name__refused(password, email):
    problem = password_problem(password, email)
    assert problem is not None and "email" in problem


def test_password_policy__long_and_uncommon__accepted():
    assert password_problem("correct horse battery") is None
    assert password_problem("Lúa chín vàng đồng 2026", "canbo@bacninh.vn") is None


def test_common_passwords__every_entry__long_enough_to_need_the_list():
    assert all(len(p) >= MIN_PASSWORD_LENGTH for p in COMMON_PASSWORDS)
