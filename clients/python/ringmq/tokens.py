"""HS256 access tokens ringmq accepts (README "Tokens"), for projects that
do not use SimpleJWT. The user id goes in `sub`, the display name in `name`,
`iat` and `exp` are set (`iat` matters after a revocation: a token of a
revoked user must be issued in a later second)."""
import base64
import hashlib
import hmac
import json
import time
import uuid


def _b64(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def mint(secret, user_id, username=None, ttl=900, now=None, audience=None, issuer=None, kid=None, extra=None):
    now = int(time.time() if now is None else now)
    claims = {"sub": str(user_id), "iat": now, "exp": now + int(ttl), "jti": uuid.uuid4().hex,
              "token_type": "access"}
    if username is not None:
        claims["name"] = username
    if audience is not None:
        claims["aud"] = audience
    if issuer is not None:
        claims["iss"] = issuer
    claims.update(extra or {})
    head = {"alg": "HS256", "typ": "JWT"}
    if kid is not None:
        head["kid"] = kid
    signing = _b64(json.dumps(head, separators=(",", ":")).encode()) + "." + \
        _b64(json.dumps(claims, separators=(",", ":")).encode())
    key = secret.encode() if isinstance(secret, str) else secret
    return signing + "." + _b64(hmac.new(key, signing.encode("ascii"), hashlib.sha256).digest())


def decode_unverified(token):
    """The claims of a token, without checking anything (for debugging)."""
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
