#!/usr/bin/env python3
"""A mobile app's side of ringmq, in one short file: what an iOS/Android team
writes with its platform's MQTT client, here with paho (Debian:
python3-paho-mqtt).

It logs in to the broker with the user's JWT (username = user id, password =
the token, client id = <user id>:<device>), keeps a persistent session,
subscribes QoS 1 to users/<id>/notifications (a call ringing at that moment
is replayed after the SUBACK; frames seen before are dropped by msg_id),
rings on call.incoming,
answers the call.offer with a (fake) SDP answer through users/<id>/outbox,
prints ICE candidates and call.end, and hangs up on Ctrl-C or after
--hangup-after seconds. No WebRTC here: the SDP is a stand-in.

The broker disconnects a connection when its token expires (keeping the
session). With --token-command the client gets a fresh token before that
(a real app asks its backend) and reconnects with it: the persistent session
makes the swap lossless, frames published meanwhile wait in it.

  examples/mobile_client.py --user bob --token "$BOB" --hangup-after 10
  examples/mobile_client.py --user bob --token-command "ringmq-token --user bob --ttl 300"
"""
import base64
import argparse
import collections
import json
import os
import signal
import ssl
import subprocess
import sys
import time
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

SEEN_MAX = 1000   # msg_ids remembered: a frame seen before (a redelivery, a replay) is dropped
FAKE_ANSWER = {"type": "answer", "sdp": "v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=ringmq example\r\nt=0 0\r\n"}


def parse_args():
    p = argparse.ArgumentParser(description="A ringmq mobile client over MQTT: rings, answers, hangs up.")
    p.add_argument("--user", required=True, help="the user id (the token's sub)")
    p.add_argument("--token", default=os.environ.get("RINGMQ_TOKEN"),
                   help="the user's JWT (default: $RINGMQ_TOKEN, which ps does not show)")
    p.add_argument("--device", default="example-" + uuid.uuid4().hex[:8],
                   help="this device's stable id, [A-Za-z0-9_-]{1,64} (default: a random one; "
                        "a real app keeps one per install so its session survives restarts)")
    p.add_argument("--host", default="127.0.0.1", help="the broker (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=1883, help="its MQTT port (default 1883; TLS: 8883)")
    p.add_argument("--tls", action="store_true", help="connect over TLS (system CAs, or --cafile)")
    p.add_argument("--cafile", help="CA bundle for --tls")
    p.add_argument("--mqtt", choices=("5", "3.1.1"), default="5", help="protocol version (default 5)")
    p.add_argument("--session-expiry", type=int, default=3600,
                   help="seconds the broker keeps the session while offline (v5; default 3600)")
    p.add_argument("--hangup-after", type=float, metavar="SECONDS",
                   help="hang up this long after answering (default: on Ctrl-C only)")
    p.add_argument("--decline", action="store_true", help="decline calls instead of answering them")
    p.add_argument("--token-command", metavar="CMD",
                   help="a shell command that prints a fresh token of --user; run at start when --token is "
                        "not given, and again --refresh-margin seconds before the token's exp")
    p.add_argument("--refresh-margin", type=float, default=60, metavar="SECONDS",
                   help="how long before exp to refresh (default 60; at most half the token's life)")
    a = p.parse_args()
    if not a.token and a.token_command:
        a.token = fetch_token(a.token_command)
    if not a.token:
        p.error("--token, $RINGMQ_TOKEN or --token-command is required")
    return a


def fetch_token(command):
    out = subprocess.run(command, shell=True, check=True, capture_output=True, text=True, timeout=30)
    return out.stdout.strip()


def token_exp(token):
    """The exp claim of a JWT (not verified: the broker does that), or None."""
    try:
        part = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
        return float(claims["exp"]) if "exp" in claims else None
    except (IndexError, ValueError, KeyError, TypeError):
        return None


class Phone:
    def __init__(self, args):
        self.args = args
        self.notifications = f"users/{args.user}/notifications"
        self.outbox = f"users/{args.user}/outbox"
        self.call_id = None          # the call we ring for or talk in
        self.hangup_at = None        # monotonic time of --hangup-after
        self.seen = collections.OrderedDict()   # recent msg_ids, oldest first
        self.refused = False
        self.last_pub = None
        self.refresh_at = self.refresh_time(args.token)
        v5 = args.mqtt == "5"
        # The broker's plugin refuses any other client id: <user id>:<device>.
        client_id = f"{args.user}:{args.device}"
        if v5:
            self.c = mqtt.Client(client_id=client_id, protocol=mqtt.MQTTv5)
        else:   # a persistent v3.1.1 session: clean_session False
            self.c = mqtt.Client(client_id=client_id, protocol=mqtt.MQTTv311, clean_session=False)
        self.c.username_pw_set(args.user, args.token)
        if args.tls:
            self.c.tls_set(ca_certs=args.cafile, cert_reqs=ssl.CERT_REQUIRED)
        self.c.on_connect = self.on_connect
        self.c.on_message = self.on_message
        self.c.on_subscribe = lambda c, u, mid, codes, props=None: say(f"listening on {self.notifications}")
        self.c.on_disconnect = lambda c, u, rc, props=None: say(f"disconnected ({rc}); paho reconnects")

    def refresh_time(self, token):
        """Wall time to fetch the next token (None: no --token-command, or no exp)."""
        exp = token_exp(token)
        if not self.args.token_command or exp is None:
            return None
        life = exp - time.time()
        return exp - min(self.args.refresh_margin, max(life, 0) / 2)

    def refresh(self):
        """A fresh token, then a reconnect with it: the session stays."""
        try:
            token = fetch_token(self.args.token_command)
        except (subprocess.SubprocessError, OSError) as e:
            say(f"--token-command failed ({e}); trying again in 5 s")
            self.refresh_at = time.time() + 5
            return
        self.args.token = token
        self.refresh_at = self.refresh_time(token)
        self.c.username_pw_set(self.args.user, token)
        say("token refreshed: reconnecting with it")
        self.c.reconnect()

    def connect(self):
        if self.args.mqtt == "5":
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = self.args.session_expiry   # keep the session (and QoS 1 queue)
            self.c.connect(self.args.host, self.args.port, keepalive=30, clean_start=False, properties=props)
        else:
            self.c.connect(self.args.host, self.args.port, keepalive=30)
        self.c.loop_start()

    def on_connect(self, c, userdata, flags, rc, props=None):
        if rc != 0:
            say(f"login refused: {rc} (bad or expired token, user id != token's sub, "
                f"or client id not <user>:<device>)")
            self.refused = True
            return
        say(f"logged in as {self.args.user} (device {self.args.device}, "
            f"session {'resumed' if flags.get('session present') else 'new'})")
        # QoS 1: a call.incoming published while we were away waits in the session;
        # one that rings now is replayed after the SUBACK (same msg_ids).
        c.subscribe(self.notifications, qos=1)

    def send(self, frame):
        """A signaling frame to our outbox; device_id names this device."""
        frame["device_id"] = self.args.device
        self.last_pub = self.c.publish(self.outbox, json.dumps(frame), qos=1)

    def first_time(self, f):
        """False for a frame whose msg_id was seen already (drop it)."""
        mid = f.get("msg_id")
        if mid is None:
            return True
        if mid in self.seen:
            return False
        self.seen[mid] = True
        if len(self.seen) > SEEN_MAX:
            self.seen.popitem(last=False)
        return True

    def on_message(self, c, userdata, msg):
        f = json.loads(msg.payload)
        if not self.first_time(f):
            return
        t, cid = f.get("type"), f.get("call_id")
        if t == "call.incoming":
            say(f"\aRING RING: {f['call_type']} call from {f['caller_username']} ({cid})")
            self.call_id = cid
            if self.args.decline:
                self.hang_up("declining")
        elif t == "call.offer" and cid == self.call_id:
            say(f"offer from {f['sender_username']}: answering")
            self.send({"type": "call.answer", "call_id": cid, "answer": FAKE_ANSWER})
            if self.args.hangup_after is not None:
                self.hangup_at = time.monotonic() + self.args.hangup_after
        elif t == "call.accepted":
            mine = f["device_id"] == self.args.device
            say("call accepted on this device" if mine else "answered on another device: stop ringing")
            if not mine and cid == self.call_id:
                self.call_id = None
        elif t == "call.ice_candidate":
            say(f"ICE candidate from {f['sender_id']}: {json.dumps(f['candidate'])}")
        elif t == "call.end":
            say(f"call ended: {f['reason']} (by {f['ended_by'] or 'nobody'})")
            if cid == self.call_id:
                self.call_id, self.hangup_at = None, None
        elif t == "error" and f.get("device_id") in (None, self.args.device):
            say(f"refused: {f['code']}: {f['message']}")
        elif t == "notification.created":
            say(f"notification: {json.dumps(f['payload'])}")

    def hang_up(self, why):
        if self.call_id:
            say(f"{why}: call.end")
            self.send({"type": "call.end", "call_id": self.call_id})
            self.call_id, self.hangup_at = None, None

    def run(self):
        self.connect()
        try:
            while not self.refused:
                if self.hangup_at is not None and time.monotonic() >= self.hangup_at:
                    self.hang_up("--hangup-after")
                if self.refresh_at is not None and time.time() >= self.refresh_at:
                    self.refresh()
                time.sleep(0.1)
        except KeyboardInterrupt:
            self.hang_up("Ctrl-C")
        if self.last_pub is not None:
            self.last_pub.wait_for_publish(5)   # the call.end's PUBACK
        self.c.disconnect()
        self.c.loop_stop()
        return 1 if self.refused else 0


def say(text):
    print(time.strftime("%H:%M:%S"), text, flush=True)


def on_sigterm(signum, frame):
    raise KeyboardInterrupt   # SIGTERM stops the client as Ctrl-C does: hang up, then leave


def main():
    args = parse_args()
    signal.signal(signal.SIGTERM, on_sigterm)
    return Phone(args).run()


if __name__ == "__main__":
    sys.exit(main())
