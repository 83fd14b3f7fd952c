#!/usr/bin/env python3
"""The application backend's side of ringmq's webhooks, in one short file
(standard library only): an HTTP server that takes ringmq-rules' POSTs,
checks each one's signature and timestamp, and prints the events.

A request is accepted (204) only when X-Ringmq-Signature is
v1=<hex HMAC-SHA256(secret, X-Ringmq-Timestamp + "." + body)> and the
timestamp is at most --max-age seconds old (5 minutes); otherwise 401, and
ringmq tries again later. Delivery is at least once: the same event (same
"id") may come twice, so a real backend keeps the ids it has handled.
Where call.ringing says "receiver_online": false, that is the moment to
send the receiver's phone a push (APNs, FCM) so the app opens and rings.

  examples/webhook_receiver.py --port 8090 --secret-file run/webhook_secret
  ringmq-rules ... --webhook-url http://127.0.0.1:8090/ --webhook-secret-file run/webhook_secret
"""
import argparse
import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 64 * 1024   # ringmq's events are far smaller


def parse_args():
    p = argparse.ArgumentParser(description="Receive, verify and print ringmq's webhook events.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8090, help="port to listen on (default 8090)")
    p.add_argument("--secret-file", help="the secret ringmq-rules signs with (default: $RINGMQ_WEBHOOK_SECRET)")
    p.add_argument("--max-age", type=int, default=300,
                   help="reject timestamps older than this many seconds (default 300)")
    a = p.parse_args()
    if a.secret_file:
        with open(a.secret_file, "rb") as f:
            a.secret = f.read().rstrip(b"\r\n")
    else:
        a.secret = os.environ.get("RINGMQ_WEBHOOK_SECRET", "").encode()
    if not a.secret:
        p.error("--secret-file or $RINGMQ_WEBHOOK_SECRET is required")
    return a


def verify(secret, headers, body, max_age, now=None):
    """None when the request is ringmq's and fresh, else why not."""
    ts = headers.get("X-Ringmq-Timestamp", "")
    sig = headers.get("X-Ringmq-Signature", "")
    if not ts.isdigit() or not sig.startswith("v1="):
        return "no timestamp or signature"
    if (now if now is not None else time.time()) - int(ts) > max_age:
        return "timestamp too old"
    want = hmac.new(secret, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(want, sig[3:]):
        return "bad signature"
    return None


def handler(args):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            if n > MAX_BODY:
                self.send_response(413)
                self.end_headers()
                return
            body = self.rfile.read(n)
            why = verify(args.secret, self.headers, body, args.max_age)
            if why:
                print(f"rejected: {why}", file=sys.stderr, flush=True)
                self.send_response(401)
                self.end_headers()
                return
            ev = json.loads(body)
            call = ev["call"]
            line = f"{ev['created_at']} {ev['type']} call {call['call_id']} {call['caller_id']} -> {call['receiver_id']}"
            if ev["type"] == "call.ringing" and not call["receiver_online"]:
                line += " (receiver offline: push to their phone)"
            if ev["type"] == "call.ended":
                line += f" {call['end_reason']} by {call['ended_by']}, {call['duration_ms']} ms"
            print(line, flush=True)
            print(json.dumps(ev), flush=True)
            self.send_response(204)
            self.end_headers()

        def log_message(self, fmt, *a):
            pass   # one line per event above is enough

    return Handler


def main():
    args = parse_args()
    server = ThreadingHTTPServer((args.host, args.port), handler(args))
    print(f"listening on http://{args.host}:{server.server_port}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    server.server_close()


if __name__ == "__main__":
    main()
