"""The seed's Test 1 call with media only through TURN: a real coturn on
loopback shares its secret with the bridge, both Chromiums tick "relay
only" (iceTransportPolicy "relay") and take their ICE servers from
GET /calls/ice-servers/. getStats() must show a selected candidate pair of
type relay on both ends and video frames being decoded, and coturn's own
log must show each browser's allocation, permission and channel with the
credential made for it.
"""
import re

from test_calls import CHAT, accept_and_connect, hang_up, open_pair, ring

STATS_WAIT = 15   # seconds for the selected pair's stats and more decoded frames


def ice_stats(x):
    return x.driver.execute_async_script(
        "var cb = arguments[arguments.length - 1];"
        "window.ringmq.iceStats().then(cb, function (e) { cb({error: String(e)}); });")


def test_seed_1_through_turn_relay_only(browsers, turn_stack):
    a, b = open_pair(browsers, turn_stack, CHAT, "chat", "#/feed", "feed")
    for x in (a, b):
        x.click("relay-only")
        assert x.js("return document.getElementById('relay-only').checked")
    ring(a, b, "turn", "chat-call-video")
    accept_and_connect(a, b, "turn")   # connected, remote video frames, inbound bytes growing
    assert b.page() == "feed"

    usernames = {}
    for x, user in ((a, "alice"), (b, "bob")):
        cfg = x.ring("pcConfig")
        assert cfg["iceTransportPolicy"] == "relay"
        turns = [s for s in cfg["iceServers"] if s.get("username")]
        assert len(turns) == 1 and turns[0]["urls"] == [turn_stack.turn.uri], cfg
        assert turns[0]["username"].endswith(":" + user)
        usernames[user] = turns[0]["username"]
        stats = x.wait(lambda y: (lambda s: s if s.get("local") and s.get("remote") else None)(ice_stats(y)),
                       STATS_WAIT, "a selected candidate pair in getStats()")
        assert (stats["local"], stats["remote"]) == ("relay", "relay"), stats
        first = stats["framesDecoded"]
        x.wait(lambda y: ice_stats(y)["framesDecoded"] > first > 0, STATS_WAIT, "framesDecoded growing")

    # coturn itself saw both browsers allocate with their own credentials
    # and bind a channel to the other side's relay (where the media goes;
    # its per-session byte counts are logged only when a session ends).
    log = turn_stack.turn.tail(n=100000)
    for user, name in usernames.items():
        for packet in ("ALLOCATE", "CREATE_PERMISSION", "CHANNEL_BIND"):
            assert re.search(r"user <" + re.escape(name) + r">: incoming packet " + packet + r" processed, success",
                             log), f"no successful {packet} of {user} ({name}) in coturn's log"
    hang_up(a, b, "turn")
