"""A phone for the integration tests: a paho MQTT client logged in to the
stack's broker as a user (username = user id, password = token, client id
"<user id>:<device>"), its network loop in a thread of its own without
paho's automatic reconnect, so a disconnection stays one; frames it gets
are checked against schemas/."""
import json
import queue
import ssl
import threading
import time

import pytest

from ringmq_client import DEFAULT_WAIT, schemas, unique

paho = pytest.importorskip("paho.mqtt.client")
from paho.mqtt.packettypes import PacketTypes  # noqa: E402
from paho.mqtt.properties import Properties  # noqa: E402

V5, V311 = paho.MQTTv5, paho.MQTTv311
SESSION_EXPIRY_S = 300     # a persistent v5 session outlives the test


class User:
    def __init__(self, stack, prefix):
        self.id = unique(prefix)
        self.name = self.id + " (token name)"
        self.token = stack.token(self.id, name=self.name)


class Phone:
    """A paho client logged in as user (client id <uid>:<device>), its
    network loop in a thread of its own that ends with the connection."""

    def __init__(self, stack, user, token=None, device=None, protocol=V5, persistent=False, subscribe=True,
                 inflight=20, connect=True, port=None, cafile=None):
        """port: another listener of the broker than the stack's; cafile:
        connect over TLS, the broker's certificate checked against it."""
        self.stack, self.user, self.protocol, self.persistent = stack, user, protocol, persistent
        self.port, self.cafile = port or stack.mqtt_port, cafile
        self.device = device or unique("dev")
        self.client_id = f"{user.id}:{self.device}"
        self.inflight = inflight
        self.outbox = f"users/{user.id}/outbox"
        self.notifications = f"users/{user.id}/notifications"
        self.c = None
        self.thread = None
        if connect:
            self.connect(token or user.token)
            if subscribe:
                self.subscribe()

    def connect(self, token):
        """Connects with token; returns the CONNACK's session-present flag."""
        rc, present = self.try_connect(token)
        assert rc == 0, f"{self.client_id}: login refused ({rc})"
        return present

    def try_connect(self, token):
        """Connects with token; the CONNACK's (reason code, session present)."""
        kw = {"protocol": self.protocol}
        if self.protocol != V5:
            kw["clean_session"] = not self.persistent
        c = paho.Client(client_id=self.client_id, **kw)
        c.username_pw_set(self.user.id, token)
        if self.cafile:
            c.tls_set_context(ssl.create_default_context(cafile=self.cafile))
        c.max_inflight_messages_set(self.inflight)
        self.messages, self.connack, self.subacks = queue.Queue(), queue.Queue(), queue.Queue()
        self.gone = threading.Event()
        self.gone_at = None
        self.gone_rc = None
        c.on_connect = lambda cl, u, flags, rc, props=None: self.connack.put(
            (rc if isinstance(rc, int) else rc.value, flags.get("session present", 0)))
        c.on_message = lambda cl, u, m: self.messages.put(m)
        c.on_subscribe = lambda cl, u, mid, codes, props=None: self.subacks.put(
            [x if isinstance(x, int) else x.value for x in codes])
        c.on_disconnect = self._on_disconnect
        if self.protocol == V5:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = SESSION_EXPIRY_S if self.persistent else 0
            c.connect("127.0.0.1", self.port, keepalive=30, clean_start=not self.persistent,
                      properties=props)
        else:
            c.connect("127.0.0.1", self.port, keepalive=30)
        self.c = c
        self._stop = False
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()
        try:
            rc, present = self.connack.get(timeout=DEFAULT_WAIT)
        except queue.Empty:
            raise AssertionError(f"{self.client_id}: no CONNACK within {DEFAULT_WAIT}s") from None
        if rc != 0:
            self._stop = True   # the broker closes a refused connection
        return rc, bool(present)

    def _on_disconnect(self, cl, u, rc, props=None):
        self.gone_at = time.time()
        self.gone_rc = rc if isinstance(rc, int) else rc.value
        self.gone.set()

    def _loop(self):
        while not self._stop:
            if self.c.loop(timeout=0.02) != paho.MQTT_ERR_SUCCESS:
                return   # disconnected: no reconnect

    def subscribe(self):
        rc, _ = self.c.subscribe(self.notifications, qos=1)
        assert rc == paho.MQTT_ERR_SUCCESS
        assert self.subacks.get(timeout=DEFAULT_WAIT) == [1]

    def publish(self, frame, qos=1):
        return self.c.publish(self.outbox, json.dumps(frame), qos=qos)

    def close(self):
        if self.c is not None and not self.gone.is_set():
            self.c.disconnect()
        self._stop = True
        if self.thread is not None:
            self.thread.join(2)

    def recv(self, timeout=DEFAULT_WAIT):
        try:
            m = self.messages.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"{self.client_id}: nothing within {timeout}s") from None
        frame = json.loads(m.payload.decode("utf-8"))
        schemas().check_server_frame(frame, f"{self.client_id}: received frame")
        return frame

    def expect(self, type_, timeout=DEFAULT_WAIT, skip=()):
        deadline = time.monotonic() + timeout
        while True:
            frame = self.recv(max(0.05, deadline - time.monotonic()))
            if frame.get("type") == type_:
                return frame
            assert frame.get("type") in skip, f"{self.client_id}: expected {type_}, got {frame}"

    def drain(self, quiet=0.5):
        """Every frame until none came for `quiet` seconds."""
        got = []
        while True:
            try:
                m = self.messages.get(timeout=quiet)
            except queue.Empty:
                return got
            got.append(json.loads(m.payload.decode("utf-8")))
