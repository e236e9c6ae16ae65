"""Password hashing: scrypt from the standard library, one implementation for everything.

Stored form: ``scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt>$<hash>`` (salt and hash urlsafe base64
without padding). The parameters travel with each hash, so the cost can be raised later and
old hashes still verify; :func:`needs_rehash` tells when a stored hash is below the current
cost. Parameters: N=2^14, r=8, p=5 -- one of the OWASP-listed scrypt configurations
(equivalent CPU cost to N=2^17, r=8, p=1) using 16 MiB of memory, so a small Lambda can run it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass

SCHEME = "scrypt"
SALT_BYTES = 16
KEY_BYTES = 32


@dataclass(frozen=True)
class ScryptParams:
    log2_n: int = 14
    r: int = 8
    p: int = 5

    def encode(self) -> str:
        return f"ln={self.log2_n},r={self.r},p={self.p}"

    @classmethod
    def decode(cls, text: str) -> ScryptParams:
        fields = dict(part.split("=", 1) for part in text.split(","))
        return cls(log2_n=int(fields["ln"]), r=int(fields["r"]), p=int(fields["p"]))

    @property
    def maxmem(self) -> int:
        return 129 * self.r * (1 << self.log2_n) + 1024 * 1024

    def cost(self) -> int:
        return (1 << self.log2_n) * self.r * self.p


CURRENT = ScryptParams()

# A hash of a random, forgotten password with the current parameters. Login verifies against
# it when the user does not exist, so unknown users and wrong passwords take the same time.
DUMMY_HASH = (
    "scrypt$ln=14,r=8,p=5$3dkoHrCEVCAe3t2FBBcK0w$rjTlWfqt5hcwRdDk3n4MQQeZJexxGh2yQzsVQlKM49c"
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _derive(password: str, salt: bytes, params: ScryptParams) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=1 << params.log2_n,
        r=params.r,
        p=params.p,
        maxmem=params.maxmem,
        dklen=KEY_BYTES,
    )


def hash_password(password: str, params: ScryptParams = CURRENT) -> str:
    salt = os.urandom(SALT_BYTES)
    key = _derive(password, salt, params)
    return f"{SCHEME}${params.encode()}${_b64(salt)}${_b64(key)}"


def _parse(stored: str) -> tuple[ScryptParams, bytes, bytes]:
    scheme, params, salt, key = stored.split("$")
    if scheme != SCHEME:
        raise ValueError(f"unknown password hash scheme {scheme!r}")
    return ScryptParams.decode(params), _unb64(salt), _unb64(key)


def verify_password(password: str, stored: str) -> bool:
    """Constant-time check of ``password`` against a stored hash; False for a malformed one."""
    try:
        params, salt, expected = _parse(stored)
    except (ValueError, KeyError):
        return False
    return hmac.compare_digest(_derive(password, salt, params), expected)


def verify_unknown_user(password: str) -> bool:
    """Spend the same time as a real verification, and fail."""
    verify_password(password, DUMMY_HASH)
    return False


def needs_rehash(stored: str) -> bool:
    try:
        params, _, _ = _parse(stored)
    except (ValueError, KeyError):
        return True
    return params.cost() < CURRENT.cost()
