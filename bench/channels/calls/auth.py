"""JWT users, stateless (like SimpleJWT's JWTStatelessUserAuthentication):
the same HS256 tokens ringmq takes; `sub` or `user_id`, `name`/`username`."""
from urllib.parse import parse_qs

import jwt
from channels.middleware import BaseMiddleware
from django.conf import settings


class TokenUser:
    is_authenticated = True

    def __init__(self, claims):
        self.id = str(claims.get("sub") or claims.get("user_id"))
        self.username = claims.get("name") or claims.get("username") or self.id


class AnonymousUser:
    is_authenticated = False
    id = None
    username = ""


def user_from_token(token):
    try:
        claims = jwt.decode(token, settings.JWT_SECRET, algorithms=["HS256"], options={"require": ["exp"]})
    except jwt.PyJWTError:
        return AnonymousUser()
    if not (claims.get("sub") or claims.get("user_id")):
        return AnonymousUser()
    return TokenUser(claims)


def user_from_request(request):
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return AnonymousUser()
    return user_from_token(header[7:])


class JWTAuthMiddleware(BaseMiddleware):
    """Puts the `?token=` user into scope["user"]."""

    async def __call__(self, scope, receive, send):
        query = parse_qs(scope.get("query_string", b"").decode())
        token = (query.get("token") or [""])[0]
        scope["user"] = user_from_token(token) if token else AnonymousUser()
        return await super().__call__(scope, receive, send)
