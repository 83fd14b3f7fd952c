"""The demo page logs in through the example Django project
(examples/django/, what scripts/run --django starts): the project runs as
its own process (manage.py runserver) on a free loopback port against the
browser stack (its API key; its JWT secret as SimpleJWT's SIGNING_KEY;
DJANGO_CORS_ORIGINS = the bridge's origin; access tokens of 20 s), with
alice and bob and their conversation made by `manage.py ringmq_demo`.

Shown: the project's CORS answers the bridge's origin only; opened with
?django=<url>, the page shows a username/password form; a wrong password is
refused; alice's logs in (the notification socket's connection.ack names
Django's pk for her, the call bar holds the conversation's pk and bob's pk,
the chat socket of that conversation opens: the membership sync reached
ringmq); the page renews its token through /api/token/refresh/ by itself
(no renew bar) and keeps the same sockets past the first token's end; Log
out POSTs /api/logout/ (Django disconnects alice at ringmq: another socket
of hers closes 4401 revoked) and the page stays logged out, its sockets
closed, with no reconnect. Webhooks are not wired here (the shared browser
stack's rules has no webhook URL); tests/integration/test_django.py covers
them."""
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import pytest

from conftest import REPO

pytest.importorskip("django")
pytest.importorskip("rest_framework_simplejwt")

MANAGE = os.path.join(REPO, "examples", "django", "manage.py")
ACCESS_S = 20
PASSWORDS = {"alice": "alice-pw-7Q2x", "bob": "bob-pw-Lm4k"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(method, url, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


class Django:
    """examples/django as scripts/run --django runs it, on a free port."""

    def __init__(self, st, origin):
        self.dir = tempfile.mkdtemp(prefix="ringmq-browser-django-")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("RINGMQ_", "DJANGO_"))}
        self.env.update({"RINGMQ_URL": st.base_url, "RINGMQ_API_KEY": st.api_key,
                         "RINGMQ_JWT_SECRET": st.jwt_secret, "DJANGO_DB": os.path.join(self.dir, "db.sqlite3"),
                         "DJANGO_CORS_ORIGINS": origin, "DJANGO_ACCESS_TOKEN_SECONDS": str(ACCESS_S)})
        self.log_path = os.path.join(self.dir, "django.log")
        subprocess.run([sys.executable, MANAGE, "migrate", "--noinput", "-v0"], env=self.env, check=True, timeout=60)
        out = subprocess.run([sys.executable, MANAGE, "ringmq_demo", "--title", "demo"], env=self.env, check=True,
                             timeout=60, capture_output=True, text=True,
                             input="".join(f"{u} {p}\n" for u, p in PASSWORDS.items())).stdout
        self.ids = dict(line.split() for line in out.splitlines())
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([sys.executable, MANAGE, "runserver", "--noreload", f"127.0.0.1:{self.port}"],
                                     env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            assert self.proc.poll() is None, f"runserver exited: {self.tail()}"
            assert time.monotonic() < deadline, f"runserver not up in 20 s: {self.tail()}"
            time.sleep(0.1)

    def token(self, user):
        status, _, raw = request("POST", f"{self.url}/api/token/", {"username": user, "password": PASSWORDS[user]})
        assert status == 200, raw
        return json.loads(raw)

    def tail(self):
        with contextlib.suppress(OSError), open(self.log_path) as f:
            return f.read()[-3000:]
        return ""

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def dj(stack):
    st = getattr(stack, "stack", None)
    if st is None:
        pytest.skip("needs the stack's API key and JWT secret; not with RINGMQ_BROWSER_URL")
    d = Django(st, stack.url)
    yield d
    print("----- django log -----\n" + d.tail())
    d.stop()


def js_state(b, el):
    return b.js(f"return document.getElementById('{el}').dataset.state")


def test_the_page_logs_in_renews_and_logs_out_through_django(browsers, stack, dj):
    st = stack.stack
    alice, bob, conv = dj.ids["alice"], dj.ids["bob"], dj.ids["conversation"]

    # CORS: the bridge's origin, and only it
    status, h, _ = request("OPTIONS", f"{dj.url}/api/token/", headers={
        "Origin": stack.url, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert status == 204 and h.get("Access-Control-Allow-Origin") == stack.url, (status, h)
    assert "POST" in h.get("Access-Control-Allow-Methods", "")
    assert "content-type" in h.get("Access-Control-Allow-Headers", "").lower()
    status, h, _ = request("OPTIONS", f"{dj.url}/api/token/", headers={
        "Origin": "http://127.0.0.1:1", "Access-Control-Request-Method": "POST"})
    assert status == 403 and "Access-Control-Allow-Origin" not in h, (status, h)

    (a,) = browsers(1)
    a.driver.get(f"{stack.url}/?django={dj.url}#/chat/{conv}")
    a.wait(lambda b: b.displayed("django-login"), what="the Django login form")
    assert not a.displayed("token-login")
    assert a.js("return document.getElementById('django-url').textContent") == dj.url

    def submit(user, password):
        for el, v in (("django-username", user), ("django-password", password)):
            a.driver.find_element("id", el).clear()
            a.driver.find_element("id", el).send_keys(v)
        a.click("django-login-btn")

    submit("alice", "not-her-password")
    a.wait(lambda b: "Wrong username or password" in b.js(
        "return document.getElementById('login-error').textContent"), what="a wrong password refused")
    assert a.page() == "login"

    submit("alice", PASSWORDS["alice"])
    a.wait(lambda b: b.page() == "chat", what="the chat page after the login")
    a.wait(lambda b: js_state(b, "notif-status") == "open", what="notification socket open")
    assert a.ring("loginVia") == "django"
    ack = a.ring("notifAck")
    assert ack["user_id"] == alice, ack      # SimpleJWT's user_id: Django's pk
    a.wait(lambda b: b.js("return document.getElementById('receiver-id').value") == bob,
           what="bob's pk in the call bar (GET /api/conversations/)")
    assert a.js("return document.getElementById('conversation-id').value") == conv
    a.wait(lambda b: js_state(b, "chat-status") == "open", what=f"chat socket of conversation {conv} open")
    assert a.js("return sessionStorage.getItem('ringmq.token')") is None, "a Django login is not stored"
    first_exp = time.time() + ACCESS_S
    device = a.ring("deviceId")

    # renewal by itself: two refreshes, each taken by both sockets
    a.wait(lambda b: b.ring("djangoRenewals") >= 2 and b.ring("tokenRenewals") >= 4,
           timeout=ACCESS_S + 10, what="two renewals through /api/token/refresh/")
    assert not a.displayed("renew"), "the renew bar asked for a paste"
    time.sleep(max(0, first_exp + 3 - time.time()))   # past the first token's end (+ the bridge's 2 s)
    for el in ("notif-status", "chat-status"):
        assert js_state(a, el) == "open", el
    assert a.ring("deviceId") == device and a.ring("notifConnects") == 1, "the notification socket was replaced"
    assert a.page() == "chat"

    # log out: at Django too (ringmq revokes alice: her other socket closes 4401 revoked)
    other = st.ws_notify(token=dj.token("alice")["access"], name="notify[alice elsewhere]")
    other.expect("connection.ack")
    a.click("logout")
    a.wait(lambda b: b.ring("djangoLogout") == 204, what="POST /api/logout/ answered 204")
    assert other.expect_close(timeout=5) == 4401 and other.closed.reason == "revoked"
    assert a.page() == "login" and a.displayed("django-login")
    time.sleep(4)   # a reconnect loop would show within the back-off's first steps
    assert a.ring("notifConnects") == 1
    for el in ("notif-status", "chat-status"):
        assert js_state(a, el) in ("closed", "forbidden"), (el, js_state(a, el))
    assert a.ring("loginVia") is None and a.ring("token") is None
