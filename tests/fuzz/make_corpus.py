#!/usr/bin/python3
"""make_corpus: writes the seed corpora of tests/fuzz/corpus/<target>/.

Run from anywhere (python3 tests/fuzz/make_corpus.py); it rewrites the
seed files it knows and leaves any others (minimised crashes, hand-made
seeds) alone. The layouts are the ones atop each fuzz_<target>.c.
"""
import base64
import hashlib
import hmac
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
SECRET = b"fuzz-secret-0123456789abcdef"  # the secret of fuzz_jwt.c
CID = "6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f"


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def token(header, claims, secret=SECRET):
    h = header if isinstance(header, bytes) else json.dumps(header, separators=(",", ":")).encode()
    c = claims if isinstance(claims, bytes) else json.dumps(claims, separators=(",", ":")).encode()
    signing = b64(h) + "." + b64(c)
    mac = hmac.new(secret, signing.encode(), hashlib.sha256).digest()
    return signing + "." + b64(mac)


FRAMES = {
    "offer_object": {"type": "call.offer", "call_id": CID, "offer": {"type": "offer", "sdp": "v=0\r\n"}, "call_type": "video"},
    "offer_string": {"type": "call.offer", "call_id": CID, "offer": "v=0\r\n", "call_type": None},
    "offer_bad_type": {"type": "call.offer", "call_id": CID, "offer": {}, "call_type": "fax"},
    "offer_no_offer": {"type": "call.offer", "call_id": CID},
    "answer": {"type": "call.answer", "call_id": CID, "answer": {"type": "answer", "sdp": "v=0"}},
    "answer_device": {"type": "call.answer", "call_id": CID, "answer": "v=0", "device_id": "phone-1"},
    "answer_device_int": {"type": "call.answer", "call_id": CID, "answer": "v=0", "device_id": 7},
    "ice": {"type": "call.ice_candidate", "call_id": CID, "candidate": {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host", "sdpMid": "0"}},
    "ice_null": {"type": "call.ice_candidate", "call_id": CID, "candidate": None},
    "ice_missing": {"type": "call.ice_candidate", "call_id": CID},
    "end": {"type": "call.end", "call_id": CID},
    "end_reason": {"type": "call.end", "call_id": CID.upper(), "reason": "declined"},
    "end_reason_int": {"type": "call.end", "call_id": CID, "reason": 3},
    "end_not_uuid": {"type": "call.end", "call_id": "42"},
    "end_call_id_int": {"type": "call.end", "call_id": 42},
    "ping": {"type": "ping"},
    "chat_message": {"type": "chat.message", "text": "hi \u00e9\u4e16", "caller_id": "forged", "sender_id": "forged"},
    "chat_typing": {"type": "chat.typing"},
    "empty_type": {"type": ""},
    "no_type": {"call_id": CID},
    "type_int": {"type": 1},
    "reserved_incoming": {"type": "call.incoming", "call_id": CID},
    "reserved_pong": {"type": "pong"},
    "reserved_error": {"type": "error", "code": "bad_json"},
    "unknown_call": {"type": "call.transfer", "call_id": CID},
}
RAW_FRAMES = {
    "not_json": b"hello",
    "array": b'[{"type":"ping"}]',
    "string": b'"ping"',
    "truncated": b'{"type":"call.offer","call_id":"',
    "duplicate_keys": b'{"type":"ping","type":"call.end"}',
    "nul_escape": b'{"type":"chat.message","text":"a\\u0000b"}',
    "type_with_nul": b'{"type":"pi\\u0000ng"}',
    "escapes": b'{"type":"chat.message","t":"\\"[{\\\\","u":"\\ud83d\\ude00"}',
    "depth_32": b'{"type":"chat.message","a":' + b"[" * 31 + b"]" * 31 + b"}",
    "depth_33": b'{"type":"chat.message","a":' + b"[" * 32 + b"]" * 32 + b"}",
    "depth_closers": b"]]]]" + b"[" * 40,
    "bad_utf8": b'{"type":"chat.message","text":"\xff\xfe"}',
    "trailing": b'{"type":"ping"} x',
    "empty": b"",
}


def frame_bytes():
    out = {k: json.dumps(v, separators=(",", ":"), ensure_ascii=False).encode() for k, v in FRAMES.items()}
    out.update(RAW_FRAMES)
    return out


def seeds_frames():
    for name, data in frame_bytes().items():
        write("fuzz_frames", name, bytes([32]) + data)


def seeds_jwt():
    good = {"sub": "alice", "name": "Alice", "exp": 1800000000}
    hs = {"alg": "HS256", "typ": "JWT"}
    raw = {
        "good": token(hs, good),
        "simplejwt": token(hs, {"user_id": 7, "username": "bob", "exp": 1800000000, "token_type": "access"}),
        "expired": token(hs, {"sub": "alice", "exp": 1600000000}),
        "no_exp": token(hs, {"sub": "alice"}),
        "alg_none": b64(b'{"alg":"none","typ":"JWT"}') + "." + b64(json.dumps(good).encode()) + ".",
        "alg_hs512": token({"alg": "HS512"}, good),
        "alg_lower": token({"alg": "hs256"}, good),
        "bad_sig": token(hs, good, b"another secret"),
        "bad_user": token(hs, {"sub": "a/b", "exp": 1800000000}),
        "four_parts": token(hs, good) + ".x",
        "two_parts": b64(b'{"alg":"HS256"}') + "." + b64(b"{}"),
        "padded": token(hs, good) + "==",
        "empty_parts": "..",
    }
    for name, tok in raw.items():
        write("fuzz_jwt", "raw_" + name, b"\x00" + tok.encode())
    signed = {
        "good": (hs, good),
        "simplejwt": (hs, {"user_id": 7, "exp": 1800000000}),
        "user_id_str": (hs, {"user_id": "007", "preferred_username": "Bond", "exp": 1800000000}),
        "expired": (hs, {"sub": "alice", "exp": 1}),
        "exp_float": (hs, {"sub": "alice", "exp": 1800000000.5}),
        "exp_string": (hs, {"sub": "alice", "exp": "1800000000"}),
        "no_exp": (hs, {"sub": "alice"}),
        "no_user": (hs, {"name": "x", "exp": 1800000000}),
        "long_name": (hs, {"sub": "a", "name": "\u00e9" * 100, "exp": 1800000000}),
        "empty_name": (hs, {"sub": "a", "name": "", "username": "u", "exp": 1800000000}),
        "alg_none": ({"alg": "none"}, good),
        "not_object": (hs, [1]),
    }
    for name, (h, c) in signed.items():
        hb = json.dumps(h, separators=(",", ":")).encode()
        cb = json.dumps(c, separators=(",", ":"), ensure_ascii=False).encode()
        write("fuzz_jwt", "signed_" + name, b"\x01" + hb + b"\x00" + cb)
    minted = {
        "good": (b"alice", b"Alice", 1800000000),
        "no_name": (b"bob", b"", 0),
        "expired": (b"carol", b"Carol", 5),
        "bad_id": (b"a b", b"x", 1800000000),
        "long_name": (b"dave", "\u4e16".encode() * 60, 1800000000),
    }
    for name, (uid, nm, exp) in minted.items():
        write("fuzz_jwt", "minted_" + name, b"\x02" + uid + b"\x00" + nm + b"\x00" + struct.pack(">q", exp))
    # "Tokens, strictly": the mode byte's high bits pick the policy (0x08
    # leeway 60 s, 0x10 audience "ringmq", 0x20 issuer, 0x40 exp optional);
    # modes 3 and 4 sign with the harness's EC and RSA keys.
    now = 1700000000  # NOW_S of fuzz_jwt.c
    aud, iss = 0x10, 0x20
    strict = {
        "refresh": (0, hs, {"user_id": 7, "exp": 1800000000, "iat": now - 60, "jti": "j", "token_type": "refresh"}),
        "access": (0, hs, {"user_id": 7, "exp": 1800000000, "iat": now - 60, "jti": "j", "token_type": "access"}),
        "type_int": (0, hs, {"sub": "a", "exp": 1800000000, "token_type": 1}),
        "nbf_future": (0, hs, {"sub": "a", "exp": 1800000000, "nbf": now + 30}),
        "nbf_leeway": (0x08, hs, {"sub": "a", "exp": 1800000000, "nbf": now + 30}),
        "nbf_string": (0, hs, {"sub": "a", "exp": 1800000000, "nbf": "now"}),
        "iat_future": (0, hs, {"sub": "a", "exp": 1800000000, "iat": now + 1}),
        "iat_leeway": (0x08, hs, {"sub": "a", "exp": 1800000000, "iat": now + 60}),
        "exp_leeway": (0x08, hs, {"sub": "a", "exp": now - 59}),
        "aud_string": (aud, hs, {"sub": "a", "exp": 1800000000, "aud": "ringmq"}),
        "aud_array": (aud, hs, {"sub": "a", "exp": 1800000000, "aud": ["web", "ringmq"]}),
        "aud_other": (aud, hs, {"sub": "a", "exp": 1800000000, "aud": ["web"]}),
        "aud_missing": (aud, hs, {"sub": "a", "exp": 1800000000}),
        "iss_good": (iss, hs, {"sub": "a", "exp": 1800000000, "iss": "https://auth.example"}),
        "iss_other": (iss | aud, hs, {"sub": "a", "exp": 1800000000, "aud": "ringmq", "iss": "https://x"}),
        "kid_hs": (0, {"alg": "HS256", "kid": "fuzz-hs"}, good),
        "kid_unknown": (0, {"alg": "HS256", "kid": "2026-12"}, good),
        "kid_rsa": (0, {"alg": "HS256", "kid": "fuzz-rsa"}, good),
        "kid_int": (0, {"alg": "HS256", "kid": 5}, good),
        "crit": (0, {"alg": "HS256", "crit": ["exp"]}, good),
        "no_exp_optional": (0x40, hs, {"sub": "alice"}),
    }
    for name, (flags, h, c) in strict.items():
        hb = json.dumps(h, separators=(",", ":")).encode()
        cb = json.dumps(c, separators=(",", ":")).encode()
        write("fuzz_jwt", "signed_" + name, bytes([1 | flags]) + hb + b"\x00" + cb)
    asym = {
        "es256": (3, {"alg": "ES256", "typ": "JWT"}, good),
        "es256_kid": (3, {"alg": "ES256", "kid": "fuzz-ec"}, good),
        "es256_kid_rsa": (3, {"alg": "ES256", "kid": "fuzz-rsa"}, good),
        "es256_as_rs256": (3, {"alg": "RS256"}, good),
        "es256_refresh": (3 | aud, {"alg": "ES256"}, {"sub": "a", "exp": 1800000000, "aud": "ringmq",
                                                      "token_type": "refresh"}),
        "rs256": (4, {"alg": "RS256", "typ": "JWT"}, good),
        "rs256_kid": (4, {"alg": "RS256", "kid": "fuzz-rsa"}, good),
        "rs256_as_hs256": (4, {"alg": "HS256"}, good),
        "rs256_nbf": (4 | 0x08, {"alg": "RS256"}, {"sub": "a", "exp": 1800000000, "nbf": now + 60}),
    }
    for name, (flags, h, c) in asym.items():
        hb = json.dumps(h, separators=(",", ":")).encode()
        cb = json.dumps(c, separators=(",", ":")).encode()
        write("fuzz_jwt", "signed_" + name, bytes([flags]) + hb + b"\x00" + cb)
    raw_strict = {
        "kid_unknown": token({"alg": "HS256", "kid": "nope"}, good),
        "rs256_garbage": b64(b'{"alg":"RS256","kid":"fuzz-rsa"}') + "." + b64(json.dumps(good).encode()) + "." +
        b64(bytes(256)),
        "es256_garbage": b64(b'{"alg":"ES256"}') + "." + b64(json.dumps(good).encode()) + "." + b64(bytes(64)),
        "refresh": token(hs, {"user_id": 7, "exp": 1800000000, "token_type": "refresh"}),
    }
    for name, tok in raw_strict.items():
        write("fuzz_jwt", "raw_" + name, b"\x00" + tok.encode())
    write("fuzz_jwt", "raw_aud_policy", bytes([aud | iss | 0x08]) + token(hs, {
        "sub": "a", "exp": now, "aud": ["ringmq"], "iss": "https://auth.example", "nbf": now + 60}).encode())


def router_input(flags, state, frame, caller=b"alice", receiver=b"bob", name=b"Alice", conv=b"c1", chat=b"c1",
                 other=b"mallory", device=b"d-1", topic=b"svc/bridges/b-0123456789abcdef/replies", corr=b"42",
                 video=1):
    fields = [caller, receiver, name, conv, chat, other, device, topic, corr]
    return bytes([flags, state, video]) + b"".join(f + b"\x00" for f in fields) + frame


def seeds_router():
    fb = frame_bytes()
    CHAT, CALL, RECV, OTHER, REPLY, CORR, OWN_ROOM, MQTT = 1, 2, 4, 8, 16, 32, 64, 128
    RINGING, ACCEPTED, ENDED = 0, 1, 2
    cases = {
        "answer_by_receiver": (CALL | RECV | MQTT, RINGING, "answer_device"),
        "answer_by_caller": (CALL, RINGING, "answer"),
        "answer_twice": (CALL | RECV, ACCEPTED, "answer"),
        "offer_in_room": (CHAT | CALL | OWN_ROOM, RINGING, "offer_object"),
        "offer_other_room": (CHAT | CALL, ACCEPTED, "offer_string"),
        "renegotiate_by_receiver": (CALL | RECV, ACCEPTED, "offer_object"),
        "ice_by_caller": (CALL | REPLY | CORR, RINGING, "ice"),
        "ice_outsider": (CALL | OTHER, RINGING, "ice"),
        "end_ringing_caller": (CALL | CHAT | OWN_ROOM, RINGING, "end"),
        "end_ringing_receiver": (CALL | RECV, RINGING, "end_reason"),
        "end_accepted": (CALL | RECV | REPLY, ACCEPTED, "end"),
        "end_after_end": (CALL, ENDED, "end"),
        "no_such_call": (RECV, RINGING, "end"),
        "chat_message": (CHAT | REPLY, RINGING, "chat_message"),
        "chat_on_notify": (0, RINGING, "chat_message"),
        "ping_reply": (REPLY | CORR, RINGING, "ping"),
        "ping_mqtt": (MQTT, RINGING, "ping"),
        "bad_json": (REPLY, RINGING, "not_json"),
        "bad_frame": (CHAT, RINGING, "ice_missing"),
        "not_uuid": (CALL, RINGING, "end_not_uuid"),
        "reserved": (CHAT, RINGING, "reserved_incoming"),
    }
    for name, (flags, state, frame) in cases.items():
        write("fuzz_router", name, router_input(flags, state, fb[frame]))
    write("fuzz_router", "bad_reply_topic",
          router_input(16 | 32, 0, fb["ping"], topic=b"users/bob/notifications"))
    write("fuzz_router", "same_user",
          router_input(2, 0, fb["end"], receiver=b"alice"))


def seeds_acl():
    FROM_NAME = 1
    SUB, READ, WRITE, WILL, UNSUB = 1, 2, 3, 4, 5
    cases = {
        "user_sub_own": ("alice", SUB, "users/alice/notifications"),
        "user_sub_other": ("alice", SUB, "users/bob/notifications"),
        "user_sub_plus": ("alice", SUB, "users/+/notifications"),
        "user_sub_own_hash": ("alice", SUB, "users/alice/#"),
        "user_sub_hash": ("alice", SUB, "#"),
        "user_sub_share": ("alice", SUB, "$share/g/users/+/notifications"),
        "user_sub_sys": ("alice", SUB, "$SYS/#"),
        "user_sub_chats": ("alice", SUB, "chats/#"),
        "user_write_outbox": ("alice", WRITE, "users/alice/outbox"),
        "user_write_other": ("alice", WRITE, "users/bob/outbox"),
        "user_write_notif": ("alice", WRITE, "users/alice/notifications"),
        "user_will": ("alice", WILL, "users/alice/outbox"),
        "user_read": ("alice", READ, "users/alice/notifications"),
        "user_unsub": ("alice", UNSUB, "#"),
        "bridge_sub_users": ("svc:bridge", SUB, "users/+/notifications"),
        "bridge_sub_replies": ("svc:bridge", SUB, "svc/bridges/b-0123456789abcdef/replies"),
        "bridge_presence": ("svc:bridge", WRITE, "svc/presence/b-0123456789abcdef"),
        "bridge_presence_mqtt": ("svc:bridge", WRITE, "svc/presence/mqtt"),
        "bridge_sub_hash": ("svc:bridge", SUB, "#"),
        "rules_sub_presence": ("svc:rules", SUB, "svc/presence/#"),
        "rules_sub_presence_plus": ("svc:rules", SUB, "svc/presence/+"),
        "rules_sub_outbox": ("svc:rules", SUB, "users/+/outbox"),
        "rules_write_replies": ("svc:rules", WRITE, "svc/bridges/b-0123456789abcdef/replies"),
        "rules_read_chat": ("svc:rules", READ, "chats/c1/in"),
        "nobody": ("a+b", SUB, "users/a+b/notifications"),
        "empty_levels": ("svc:rules", SUB, "users//outbox"),
    }
    for name, (user, access, topic) in cases.items():
        cid = (user + ":phone-1").encode()
        write("fuzz_acl", name, bytes([FROM_NAME, access, 0]) + user.encode() + b"\x00" + topic.encode() + b"\x00" + cid)
    write("fuzz_acl", "user_retain", bytes([FROM_NAME, WRITE, 1]) + b"alice\x00users/alice/outbox\x00alice:x")
    write("fuzz_acl", "raw_kind_user", bytes([2, SUB, 0]) + b"a/b\x00users/a/b/notifications\x00a/b:x")
    write("fuzz_acl", "bad_client_id", bytes([FROM_NAME, SUB, 0]) + b"alice\x00users/alice/notifications\x00bob:x")
    write("fuzz_acl", "access_zero", bytes([FROM_NAME, 0, 0]) + b"alice\x00users/alice/notifications\x00")


if __name__ == "__main__":
    seeds_frames()
    seeds_jwt()
    seeds_router()
    seeds_acl()
