"""The demo page renews its token before the service would close its
sockets (PROTOCOL.md "Live connections end with their token"): logged in
with a token that ends in 16 s, the page shows its renew bar at half the
token's life; a new token of the same user pasted there goes to the open
sockets as auth.refresh, the service answers auth.refreshed, and the
notification and chat sockets stay the same sockets past the first token's
end (no 4401, no reconnect). A token of another user is refused by the page
itself."""
import time

import pytest

TTL_S = 16
CHAT = "#/chat/demo"


def test_the_page_renews_its_token_and_keeps_its_sockets(browsers, stack):
    st = getattr(stack, "stack", None)   # the integration harness's Stack under the browser service
    if st is None:
        pytest.skip("mints short tokens with the stack's secret; not with RINGMQ_BROWSER_URL")
    (a,) = browsers(1)
    short = st.token("alice", name="Alice", ttl=TTL_S)
    exp = time.time() + TTL_S
    a.open(f"{stack.url}/?token={short}{CHAT}", "chat")
    a.wait(lambda b: b.js("return document.getElementById('chat-status').dataset.state") == "open",
           what="chat socket open")
    device = a.ring("deviceId")
    assert not a.displayed("renew")
    a.wait(lambda b: b.displayed("renew"), timeout=TTL_S / 2 + 3, what="the renew bar")
    assert exp - time.time() > 3, "the bar came too late to be of use"

    # Another user's token: the page says no and sends nothing.
    a.driver.find_element("id", "renew-token").send_keys(st.token("bob", name="Bob"))
    a.click("renew-btn")
    a.wait(lambda b: "another user" in b.js("return document.getElementById('renew-error').textContent"),
           what="the page refusing bob's token")
    assert a.ring("tokenRenewals") == 0

    a.driver.find_element("id", "renew-token").clear()
    a.driver.find_element("id", "renew-token").send_keys(st.token("alice", name="Alice", ttl=3600))
    a.click("renew-btn")
    a.wait(lambda b: b.ring("tokenRenewals") >= 2, what="auth.refreshed on both sockets")
    assert not a.displayed("renew")

    time.sleep(max(0, exp + 3 - time.time()))   # past the first token's end and the bridge's 2 s
    for sock in ("notif-status", "chat-status"):
        state = a.js(f"return document.getElementById('{sock}').dataset.state")
        assert state == "open", f"{sock}: {state}"
    assert a.ring("deviceId") == device and a.ring("notifConnects") == 1, "the notification socket was replaced"
    assert a.page() == "chat"
