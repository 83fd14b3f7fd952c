"""End-to-end calls between two real Chromium instances through the real
service (broker, rules, bridge serving web/), fake camera and microphone.

The seed's Tests 1-3 (callers and callees on different pages, the incoming
call reaching the callee wherever they are), then decline, missed, busy,
hang-up by either side and answered-on-another-device. A and B are alice and
bob, members of the conversation `demo`.
"""
CHAT = "#/chat/demo"
RING_WAIT = 10        # seconds for the callee's modal to appear
CONNECT_WAIT = 25     # seconds for both peer connections to reach `connected`
MEDIA_WAIT = 15       # seconds for frames and bytes on the remote video


def open_pair(browsers, stack, route_a, page_a, route_b, page_b):
    a, b = browsers(2)
    a.open(stack.login_url("alice", route_a), page_a)
    b.open(stack.login_url("bob", route_b), page_b)
    if page_a == "chat":
        a.wait(lambda x: x.js("return document.getElementById('chat-status').dataset.state") == "open",
               what="chat socket open")
    if page_b == "chat":
        b.wait(lambda x: x.js("return document.getElementById('chat-status').dataset.state") == "open",
               what="chat socket open")
    return a, b


def ring(a, b, test, button):
    """A calls B with `button`; B's incoming-call modal shows up where B is."""
    page_b = b.page()
    a.click(button)
    b.wait(lambda x: x.displayed("incoming-modal"), RING_WAIT, "incoming-call modal")
    assert "Alice" in b.js("return document.getElementById('incoming-text').textContent")
    assert b.page() == page_b, "the modal must not move B to another page"
    assert a.state() == "calling"
    a.screenshot(test, "ringing")
    b.screenshot(test, "ringing")


def media_flows(x):
    """The remote video of x shows frames and inbound RTP bytes grow."""
    x.wait(lambda y: y.js("return document.getElementById('remote-video').videoWidth") > 0,
           MEDIA_WAIT, "remote video frames (videoWidth > 0)")
    first = x.inbound_bytes()
    x.wait(lambda y: y.inbound_bytes() > first > 0, MEDIA_WAIT, "inbound-rtp bytesReceived growing")


def accept_and_connect(a, b, test):
    b.click("accept")
    for x in (a, b):
        x.wait(lambda y: y.state() == "connected", CONNECT_WAIT, "call connected")
        assert x.ring("pc.connectionState") == "connected"
    assert not b.displayed("incoming-modal")
    for x in (a, b):
        media_flows(x)
    assert a.ring("callId") == b.ring("callId")
    a.screenshot(test, "connected")
    b.screenshot(test, "connected")


def no_errors(*xs):
    """No page got an error frame: it never sent a frame the service refused."""
    for x in xs:
        assert x.server_errors() == [], f"{x.name} got error frames"


def hang_up(by, other, test):
    """`by` hangs up; both sides end, the other one told who ended it."""
    by.click("hangup")
    by.wait(lambda y: y.state() == "ended", 5, "own call ended")
    other.wait(lambda y: y.state() == "ended", 10, "call ended by the other side")
    assert other.ring("endReason") == "hangup"
    assert other.ring("endedBy") == by.ring("userId")
    assert "ended by" in other.status().lower()
    assert other.ring("pc") is None
    by.screenshot(test, "hung-up")
    other.screenshot(test, "hung-up")
    no_errors(by, other)


def test_seed_1_chat_page_calls_feed_page(browsers, stack):
    """Seed Test 1: A on the chat page, B on the feed page. A hangs up."""
    a, b = open_pair(browsers, stack, CHAT, "chat", "#/feed", "feed")
    ring(a, b, "test1", "chat-call-video")
    accept_and_connect(a, b, "test1")
    assert b.page() == "feed"
    hang_up(a, b, "test1")


def test_seed_2_profile_calls_marketplace(browsers, stack):
    """Seed Test 2: A on profile, B on marketplace; B moved around first and
    kept one notification socket. B hangs up."""
    a, b = open_pair(browsers, stack, "#/profile", "profile", "#/feed", "feed")
    device = b.ring("deviceId")
    for route, page in (("#/profile", "profile"), (CHAT, "chat"), ("#/marketplace", "marketplace")):
        b.go(route, page)
    assert b.ring("deviceId") == device and b.ring("notifConnects") == 1, \
        "the notification socket must survive page changes"
    ring(a, b, "test2", "call-video")
    accept_and_connect(a, b, "test2")
    assert (a.page(), b.page()) == ("profile", "marketplace")
    hang_up(b, a, "test2")


def test_seed_3_both_on_chat_page(browsers, stack):
    """Seed Test 3: both on the chat page; chat messages relay too. Alice's
    second tab, in the same room, sees her call's room copies and must not
    ring for her own call."""
    a, b = open_pair(browsers, stack, CHAT, "chat", CHAT, "chat")
    (a2,) = browsers(1)
    a2.open(stack.login_url("alice", CHAT), "chat")
    a.driver.find_element("id", "chat-input").send_keys("hello from alice")
    a.click("chat-send")
    b.wait(lambda y: "Alice: hello from alice" in y.js(
        "return document.getElementById('chat-log').textContent"), 5, "chat message relayed")
    ring(a, b, "test3", "chat-call-video")
    accept_and_connect(a, b, "test3")
    assert a2.state() == "idle" and not a2.displayed("incoming-modal")
    hang_up(a, b, "test3")
    assert a2.state() == "idle"
    no_errors(a2)


def test_decline(browsers, stack):
    """B declines: the modal goes, A sees the call declined."""
    a, b = open_pair(browsers, stack, "#/feed", "feed", "#/profile", "profile")
    ring(a, b, "decline", "call-video")
    b.click("decline")
    a.wait(lambda y: y.state() == "ended", 10, "call ended at the caller")
    assert a.ring("endReason") == "declined"
    assert "declined" in a.status().lower()
    assert b.state() == "ended" and not b.displayed("incoming-modal")
    a.screenshot("decline", "declined")
    b.screenshot("decline", "declined")
    no_errors(a, b)


def test_missed(browsers, short_ring_stack):
    """Nobody answers: after the ring time-out both sides show a missed call."""
    a, b = open_pair(browsers, short_ring_stack, CHAT, "chat", "#/marketplace", "marketplace")
    ring(a, b, "missed", "chat-call-video")
    timeout = short_ring_stack.ring_timeout_ms / 1000 + 10
    for x in (a, b):
        x.wait(lambda y: y.state() == "ended", timeout, "missed call")
        assert x.ring("endReason") == "missed"
        assert "missed" in x.status().lower()
    assert not b.displayed("incoming-modal")
    a.screenshot("missed", "missed")
    b.screenshot("missed", "missed")
    no_errors(a, b)


def test_caller_cancels(browsers, stack):
    """A hangs up while it rings: B's modal goes away."""
    a, b = open_pair(browsers, stack, "#/profile", "profile", "#/feed", "feed")
    ring(a, b, "cancel", "call-voice")
    a.click("hangup")
    b.wait(lambda y: y.state() == "ended", 10, "ringing stopped")
    assert b.ring("endReason") == "cancelled"
    assert "missed call" in b.status().lower()
    assert not b.displayed("incoming-modal")
    no_errors(a, b)


def test_voice_call(browsers, stack):
    """A voice call: audio only, inbound bytes grow on both sides."""
    a, b = open_pair(browsers, stack, "#/marketplace", "marketplace", CHAT, "chat")
    ring(a, b, "voice", "call-voice")
    assert "voice" in b.js("return document.getElementById('incoming-text').textContent")
    b.click("accept")
    for x in (a, b):
        x.wait(lambda y: y.state() == "connected", CONNECT_WAIT, "voice call connected")
        assert x.js("return window.ringmq.localStream.getVideoTracks().length") == 0
        first = x.inbound_bytes()
        x.wait(lambda y: y.inbound_bytes() > first > 0, MEDIA_WAIT, "inbound audio bytes growing")
    hang_up(b, a, "voice")


def test_notification_socket_reconnects(browsers, stack):
    """The notification socket drops: the page opens a new one by itself
    (back-off) and calls ring there again."""
    a, b = open_pair(browsers, stack, "#/feed", "feed", "#/profile", "profile")
    old = b.ring("deviceId")
    b.js("window.ringmq.notifSocket.ws.close()")
    b.wait(lambda y: y.ring("notifConnects") == 2 and y.js(
        "return document.getElementById('notif-status').dataset.state") == "open", 10, "socket reopened")
    assert b.ring("deviceId") != old
    ring(a, b, "reconnect", "call-video")
    b.click("decline")
    a.wait(lambda y: y.state() == "ended", 10, "call ended at the caller")
    no_errors(a, b)


def test_reload_while_ringing(browsers, stack):
    """B reloads the page while A's call rings: the new page's notification
    socket gets the call again (call.incoming, A's offer and candidates,
    replayed by the service), shows the incoming-call box, and B accepts:
    the call connects with media both ways."""
    a, b = open_pair(browsers, stack, "#/feed", "feed", "#/profile", "profile")
    ring(a, b, "reload", "call-video")
    call_id = a.ring("callId")
    # The offer and every candidate are sent before the reload: the new
    # page can only have them from the replay.
    a.wait(lambda y: y.js("var pc = window.ringmq.pc; return !!pc && !!pc.localDescription && "
                          "pc.iceGatheringState === 'complete'"), 10, "caller's offer and candidates sent")
    old = b.ring("deviceId")
    b.driver.refresh()
    b.wait(lambda y: y.page() == "profile" and y.js(
        "return document.getElementById('notif-status').dataset.state") == "open", 10, "page reloaded")
    assert b.ring("deviceId") != old, "a new notification socket"
    b.wait(lambda y: y.displayed("incoming-modal"), RING_WAIT, "incoming-call modal after the reload")
    assert "Alice" in b.js("return document.getElementById('incoming-text').textContent")
    assert b.ring("callId") == call_id
    b.screenshot("reload", "ringing-after-reload")
    accept_and_connect(a, b, "reload")
    hang_up(b, a, "reload")


def test_busy_and_answered_elsewhere(browsers, stack):
    """Bob on two devices: one answers, the other stops ringing. Then carol
    calls bob, who is in that call: carol's page shows busy (409)."""
    a, b, b2 = browsers(3)
    a.open(stack.login_url("alice", "#/feed"), "feed")
    b.open(stack.login_url("bob", "#/feed"), "feed")
    b2.open(stack.login_url("bob", "#/marketplace"), "marketplace")
    a.click("call-video")
    for x in (b, b2):
        x.wait(lambda y: y.displayed("incoming-modal"), RING_WAIT, "modal on each device")
    accept_and_connect(a, b, "elsewhere")
    b2.wait(lambda y: y.state() == "ended", 10, "other device stops ringing")
    assert b2.ring("endReason") == "answered_elsewhere"
    assert not b2.displayed("incoming-modal")
    b2.screenshot("elsewhere", "answered-elsewhere")

    b2.driver.get(stack.login_url("carol", "#/feed"))
    b2.wait(lambda y: y.ring("userId") == "carol", 10, "logged in as carol")
    b2.js("document.getElementById('receiver-id').value = 'bob'")
    b2.click("call-video")
    b2.wait(lambda y: y.state() == "ended", 10, "busy answer")
    assert b2.ring("endReason") == "busy"
    assert "busy" in b2.status().lower()
    b2.screenshot("busy", "busy")
    assert b.state() == "connected", "bob's call goes on"
    hang_up(b, a, "elsewhere")



def test_login_by_paste_survives_reload(browsers, stack):
    """Pasting a token logs in; a reload keeps the session (sessionStorage);
    a token the service refuses (4401) lands back on the login form."""
    (a,) = browsers(1)
    a.driver.get(stack.url + "/")
    a.wait(lambda y: y.displayed("login"), 10, "login form")
    a.driver.find_element("id", "token-input").send_keys(stack.token("alice"))
    a.click("login-btn")
    a.wait(lambda y: y.page() == "feed" and y.ring("deviceId"), 10, "logged in, socket open")
    assert "Alice" in a.js("return document.getElementById('whoami').textContent")
    a.driver.refresh()
    a.wait(lambda y: y.page() == "feed" and y.ring("deviceId"), 10, "still logged in after reload")
    assert "token=" not in a.driver.current_url
    a.click("logout")
    a.wait(lambda y: y.displayed("login"), 5, "logged out")
    bad = stack.token("alice")[:-4] + "AAAA"   # a broken signature
    a.driver.get(f"{stack.url}/?token={bad}#/feed")
    a.wait(lambda y: y.displayed("login") and "4401" in y.js(
        "return document.getElementById('login-error').textContent"), 10, "refused token")
