import base64
import json
import time

import jwt
import pytest

from chatbot_lambda import tokens

SECRET = "s" * 43
ISSUER = "chatbot-deploy:test"


def test_issue_and_verify():
    issued = tokens.issue("alice", SECRET, ISSUER, 3600)
    assert abs(issued.expires_at - (time.time() + 3600)) < 5
    claims = jwt.decode(issued.token, SECRET, algorithms=["HS256"], issuer=ISSUER)
    verified = tokens.verify(issued.token, SECRET, ISSUER)
    assert verified == tokens.VerifiedToken("alice", issued.expires_at, claims["iat"])
    assert set(claims) == {"sub", "iss", "iat", "exp", "jti"}
    # unique per login, even in the same second (signing one out keeps the other)
    assert tokens.issue("alice", SECRET, ISSUER, 3600).token != issued.token
    assert jwt.get_unverified_header(issued.token)["alg"] == "HS256"


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(**over):
    now = int(time.time())
    return {"sub": "alice", "iss": ISSUER, "iat": now, "exp": now + 600, **over}


FORGED = {
    "expired": lambda: jwt.encode(_claims(exp=int(time.time()) - 10), SECRET, "HS256"),
    "other key": lambda: jwt.encode(_claims(), "another-secret-of-32-bytes-length!", "HS256"),
    "alg none": lambda: f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims())}.",
    "HS512": lambda: jwt.encode(_claims(), SECRET, "HS512"),
    "wrong issuer": lambda: jwt.encode(_claims(iss="someone-else"), SECRET, "HS256"),
    "no exp": lambda: jwt.encode({k: v for k, v in _claims().items() if k != "exp"}, SECRET),
    "no sub": lambda: jwt.encode({k: v for k, v in _claims().items() if k != "sub"}, SECRET),
    "empty sub": lambda: jwt.encode(_claims(sub=""), SECRET, "HS256"),
    "tampered payload": lambda: ".".join(
        [
            tokens.issue("alice", SECRET, ISSUER, 60).token.split(".")[0],
            _b64(_claims(sub="admin")),
            tokens.issue("alice", SECRET, ISSUER, 60).token.split(".")[2],
        ]
    ),
    "garbage": lambda: "not-a-jwt",
}


@pytest.mark.parametrize("case", sorted(FORGED))
def test_forged_tokens_are_refused(case):
    with pytest.raises(tokens.InvalidToken):
        tokens.verify(FORGED[case](), SECRET, ISSUER)
