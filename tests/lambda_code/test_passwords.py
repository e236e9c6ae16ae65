import time

import pytest

from chatbot_lambda import passwords


def test_hash_round_trip_and_format():
    stored = passwords.hash_password("correct horse battery")
    scheme, params, salt, key = stored.split("$")
    assert scheme == "scrypt"
    assert params == "ln=14,r=8,p=5"
    assert len(salt) >= 22 and len(key) >= 43
    assert passwords.verify_password("correct horse battery", stored)
    assert not passwords.verify_password("correct horse batterY", stored)


def test_same_password_gets_a_different_salt():
    assert passwords.hash_password("same-password") != passwords.hash_password("same-password")


def test_parameters_travel_with_the_hash():
    cheap = passwords.ScryptParams(log2_n=10, r=8, p=1)
    stored = passwords.hash_password("pw-123456", cheap)
    assert "$ln=10,r=8,p=1$" in stored
    assert passwords.verify_password("pw-123456", stored)
    assert passwords.needs_rehash(stored)
    assert not passwords.needs_rehash(passwords.hash_password("pw-123456"))


@pytest.mark.parametrize(
    "stored",
    ["", "plain-text-password", "bcrypt$x$y$z", "scrypt$ln=14$salt$key", "scrypt$$$"],
)
def test_malformed_hashes_never_verify(stored):
    assert not passwords.verify_password("anything", stored)
    assert passwords.needs_rehash(stored)


def test_dummy_hash_uses_current_parameters():
    params, _, _ = passwords._parse(passwords.DUMMY_HASH)
    assert params == passwords.CURRENT


def test_unknown_user_costs_as_much_as_a_real_check():
    stored = passwords.hash_password("real-password")
    start = time.perf_counter()
    passwords.verify_password("wrong-password", stored)
    real = time.perf_counter() - start
    start = time.perf_counter()
    assert passwords.verify_unknown_user("wrong-password") is False
    dummy = time.perf_counter() - start
    assert 0.5 < dummy / real < 2.0
