import base64
import hashlib
import hmac
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from ringmq import tokens  # noqa: E402


def test_mint_is_hs256_with_sub_iat_exp():
    tok = tokens.mint("k3y", 42, username="Alice", ttl=60, now=1_800_000_000)
    head, body, sig = tok.split(".")
    want = base64.urlsafe_b64encode(hmac.new(b"k3y", f"{head}.{body}".encode(), hashlib.sha256).digest())
    assert sig == want.rstrip(b"=").decode()
    pad = lambda s: s + "=" * (-len(s) % 4)   # noqa: E731
    assert json.loads(base64.urlsafe_b64decode(pad(head))) == {"alg": "HS256", "typ": "JWT"}
    claims = json.loads(base64.urlsafe_b64decode(pad(body)))
    assert claims["sub"] == "42" and claims["name"] == "Alice" and claims["token_type"] == "access"
    assert claims["iat"] == 1_800_000_000 and claims["exp"] == 1_800_000_060
    assert tokens.decode_unverified(tok) == claims


def test_default_now_and_extra_claims():
    claims = tokens.decode_unverified(tokens.mint("k", "bob", extra={"aud": "app"}))
    assert abs(claims["iat"] - time.time()) < 5 and claims["aud"] == "app"
