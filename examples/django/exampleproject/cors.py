"""CORS for the demo page, which the bridge serves from another origin
(scripts/run --django): exactly the origins in $DJANGO_CORS_ORIGINS
(space- or comma-separated, e.g. "http://127.0.0.1:8080"; none when unset)
may call the API from a browser. A preflight (OPTIONS with
Access-Control-Request-Method) from one of them is answered 204 here; any
other origin gets no CORS headers, so its browser keeps the answer from it.
Only Content-Type and Authorization may be sent: the page posts JSON and
bearer tokens, never cookies (no Allow-Credentials)."""
import os

from django.http import HttpResponse

ALLOW_METHODS = "GET, POST, OPTIONS"
ALLOW_HEADERS = "Authorization, Content-Type"
MAX_AGE = "600"


def allowed_origins():
    raw = os.environ.get("DJANGO_CORS_ORIGINS", "")
    return frozenset(o.strip().rstrip("/") for o in raw.replace(",", " ").split() if o.strip())


class CorsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.origins = allowed_origins()

    def __call__(self, request):
        origin = request.headers.get("Origin")
        ok = origin is not None and origin in self.origins
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            response = HttpResponse(status=204 if ok else 403)
            if ok:
                response["Access-Control-Allow-Methods"] = ALLOW_METHODS
                response["Access-Control-Allow-Headers"] = ALLOW_HEADERS
                response["Access-Control-Max-Age"] = MAX_AGE
        else:
            response = self.get_response(request)
        if ok:
            response["Access-Control-Allow-Origin"] = origin
        if self.origins:
            response["Vary"] = ", ".join(v for v in (response.get("Vary"), "Origin") if v)
        return response
