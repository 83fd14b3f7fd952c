"""schemas/ themselves: every file is a valid draft 2020-12 schema whose refs
resolve from schemas/ alone, and the schemas accept the frames PROTOCOL.md
describes and refuse the ones it forbids (so a frame check can fail)."""
import json
import os
from urllib.parse import urljoin

import jsonschema
import pytest

from ringmq_client import SCHEMA_DIR, SERVER_TYPES, Schemas

S = Schemas()
CID = "0b6f1d2e-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
MSG = "7d3c2b1a-0f9e-4d8c-b7a6-958473625140"
T = "2026-11-24T23:20:00.123Z"
STAMP = {"sender_id": "alice", "sender_username": "Alice", "from_device": "d-1", "msg_id": MSG}


def test_every_schema_is_valid_and_refs_resolve():
    assert len(S.by_path) >= 25
    for rel, schema in S.by_path.items():
        assert schema.get("$schema") == "https://json-schema.org/draft/2020-12/schema", rel
        jsonschema.Draft202012Validator.check_schema(schema)
        # Resolve every $ref in the file (an unresolvable one raises).
        v = S.validator(rel)

        def walk(node):
            if isinstance(node, dict):
                if "$ref" in node:
                    v.resolver.resolve(urljoin(schema["$id"], node["$ref"]))
                for x in node.values():
                    walk(x)
            elif isinstance(node, list):
                for x in node:
                    walk(x)
        walk(schema)


def test_a_schema_per_server_frame_and_body():
    for t in SERVER_TYPES:
        assert f"server/{t}.json" in S.by_path
    for rel in ("server/relay.json", "client/call.offer.json", "client/call.answer.json",
                "client/call.ice_candidate.json", "client/call.end.json", "client/ping.json", "client/relay.json",
                "http/initiate.request.json", "http/initiate.response.json", "http/error.json",
                "http/calls.list.response.json", "http/call.response.json", "http/ice-servers.response.json",
                "http/conversation.put.request.json",
                "http/conversation.put.response.json", "http/notification.request.json",
                "http/disconnect.response.json", "http/healthz.response.json", "http/readyz.response.json",
                "http/livez.response.json"):
        assert rel in S.by_path, rel
    readme = open(os.path.join(SCHEMA_DIR, "README.md")).read()
    for rel in S.by_path:
        assert rel in readme, f"schemas/README.md does not list {rel}"


GOOD = [
    {"type": "connection.ack", "user_id": "7", "device_id": "d-abc", "features": ["ice", "call.accepted"]},
    {"type": "call.incoming", "call_id": CID, "caller_id": "alice", "caller_username": "Alice",
     "call_type": "video", "conversation_id": "c1", "offer": None, "msg_id": CID},
    dict({"type": "call.offer", "call_id": CID, "caller_id": "alice", "caller_username": "Alice",
          "call_type": "voice", "offer": {"type": "offer", "sdp": "v=0"}, "conversation_id": "c1"}, **STAMP),
    dict({"type": "call.answer", "call_id": CID, "answer": "v=0", "receiver_id": "bob"}, **STAMP),
    dict({"type": "call.ice_candidate", "call_id": CID, "candidate": None, "sender_id": "alice"}, **STAMP),
    {"type": "call.accepted", "call_id": CID, "device_id": "d-2"},
    dict({"type": "call.end", "call_id": CID, "reason": "hangup", "ended_by": "bob"}, **STAMP),
    {"type": "call.end", "call_id": CID, "reason": "missed", "ended_by": None},
    {"type": "notification.created", "payload": {"anything": [1, 2]}},
    {"type": "pong"},
    {"type": "error", "code": "not_found", "message": "no such call", "ref": "call.answer", "call_id": "x"},
    dict({"type": "chat.message", "text": "hi"}, **STAMP),
]

BAD = [
    ({"type": "connection.ack", "user_id": "7", "device_id": "d"}, "features missing"),
    ({"type": "connection.ack", "user_id": 7, "device_id": "d", "features": []}, "ids are strings"),
    ({"type": "call.incoming", "call_id": "not-a-uuid", "caller_id": "a", "caller_username": "A",
      "call_type": "video", "conversation_id": "c", "msg_id": CID}, "call id not a UUID"),
    ({"type": "call.incoming", "call_id": CID, "caller_id": "a", "caller_username": "A",
      "call_type": "audio", "conversation_id": "c", "msg_id": CID}, "call_type enum"),
    ({"type": "call.incoming", "call_id": CID, "caller_id": "a b", "caller_username": "A",
      "call_type": "voice", "conversation_id": "c", "msg_id": CID}, "id rule"),
    ({"type": "call.incoming", "call_id": CID, "caller_id": "a", "caller_username": "A",
      "call_type": "voice", "conversation_id": "c"}, "msg_id missing"),
    ({"type": "call.offer", "call_id": CID, "caller_id": "a", "caller_username": "A", "call_type": "voice",
      "offer": "v=0", "conversation_id": "c"}, "client frame copy without sender stamp"),
    (dict({"type": "call.answer", "call_id": CID, "answer": "v=0"}, **STAMP), "receiver_id missing"),
    (dict({"type": "call.end", "call_id": CID, "reason": "bored", "ended_by": "a"}, **STAMP), "reason enum"),
    ({"type": "call.end", "call_id": CID, "reason": "hangup"}, "ended_by missing"),
    ({"type": "call.end", "call_id": CID, "reason": "missed", "ended_by": "a"}, "missed has no ender"),
    (dict({"type": "call.end", "call_id": CID, "reason": "hangup", "ended_by": "a"}, msg_id="x",
          sender_id="a", sender_username="A", from_device="d"), "msg_id not a UUID"),
    ({"type": "error", "code": "oops", "message": "m"}, "error code enum"),
    ({"type": "error", "code": "bad_json"}, "message missing"),
    ({"type": "notification.created", "payload": [1]}, "payload is an object"),
    ({"type": "chat.message", "text": "hi"}, "relay copy without stamp"),
    (dict({"type": "call.bogus"}, **STAMP), "call.* types are not relayed"),
    (dict({"type": "ping"}, **STAMP), "ping is never relayed"),
]


@pytest.mark.parametrize("frame", GOOD, ids=lambda f: f["type"])
def test_good_server_frames_validate(frame):
    S.check_server_frame(frame)


@pytest.mark.parametrize("frame,why", BAD, ids=[b[1] for b in BAD])
def test_bad_server_frames_fail(frame, why):
    assert S.errors(S.server_schema_for(frame), frame), f"should not validate: {why}"


def test_http_bodies():
    call = {"call_id": CID, "caller_id": "a", "receiver_id": "b", "call_type": "video", "conversation_id": "c",
            "status": "ended", "created_at": T, "answered_at": T, "ended_at": T, "end_reason": "hangup"}
    S.check("http/call.response.json", call)
    S.check("http/calls.list.response.json", {"calls": [call], "next_before": None})
    assert S.errors("http/call.response.json", dict(call, status="finished"))
    assert S.errors("http/call.response.json", dict(call, created_at="2026-11-24T23:20:00Z"))
    S.check("http/initiate.request.json", {"receiver_id": 7, "call_type": "voice", "conversation_id": "c"})
    assert S.errors("http/initiate.request.json", {"receiver_id": -1, "call_type": "voice", "conversation_id": "c"})
    resp = {"call_id": CID, "status": "ringing", "caller_id": "a", "receiver_id": "b", "call_type": "voice",
            "conversation_id": "c", "created_at": T, "receiver_online": False}
    S.check("http/initiate.response.json", resp)
    assert S.errors("http/initiate.response.json", dict(resp, receiver_online="no"))
    S.check("http/error.json", {"error": "busy", "message": "in a call"})
    turn = {"urls": ["turn:t.example:3478", "turns:t.example:5349?transport=tcp"], "username": "1764633600:alice",
            "credential": "BNqoiOJ2CM13w7Vq5zHGO7W5baQ="}
    ice = {"ice_servers": [turn, {"urls": ["stun:t.example"]}], "ttl": 86400}
    S.check("http/ice-servers.response.json", ice)
    S.check("http/ice-servers.response.json", {"ice_servers": [], "ttl": 86400})
    no_credential = dict(turn)
    del no_credential["credential"]
    for bad in ({"ice_servers": [no_credential], "ttl": 60}, {"ice_servers": [], "ttl": 0},
                {"ice_servers": [dict(turn, username="alice")], "ttl": 60},
                {"ice_servers": [{"urls": ["stun:t.example"], "username": "1:a", "credential": turn["credential"]}],
                 "ttl": 60},
                {"ice_servers": [dict(turn, urls=["turn:t.example", "stun:t.example"])], "ttl": 60},
                {"ice_servers": [{"urls": ["http://t.example"]}], "ttl": 60}, {"ice_servers": []}):
        assert S.errors("http/ice-servers.response.json", bad), bad
    assert S.errors("http/error.json", {"error": "teapot", "message": "x"})
    health = {"status": "unavailable", "broker": "up", "rules": "up", "store": "failing",
              "store_detail": "the database's file system is (nearly) full"}
    for rel in ("http/healthz.response.json", "http/readyz.response.json"):
        S.check(rel, health)
        S.check(rel, {"status": "ok", "broker": "up", "rules": "up", "store": "ok"})
        assert S.errors(rel, dict(health, store="full"))
        assert S.errors(rel, {"status": "ok", "broker": "up", "rules": "up"})
    S.check("http/livez.response.json", {"status": "ok"})
    assert S.errors("http/livez.response.json", {"status": "unavailable"})
    S.check("http/conversation.put.request.json", {"members": ["a", 7]})
    assert S.errors("http/conversation.put.response.json", {"conversation_id": "c", "members": [7]})


def test_client_frames():
    S.check("client/call.offer.json", {"type": "call.offer", "call_id": CID, "offer": {"sdp": "v=0"}})
    S.check("client/call.end.json", {"type": "call.end", "call_id": CID, "reason": "whatever"})
    S.check("client/relay.json", {"type": "chat.typing"})
    assert S.errors("client/relay.json", {"type": "call.incoming"})
    assert S.errors("client/relay.json", {"type": "pong"})
    assert S.errors("client/call.answer.json", {"type": "call.answer", "call_id": CID})
    json.dumps(S.by_path)  # all plain JSON
