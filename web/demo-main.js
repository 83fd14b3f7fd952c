/*
 * ringmq demo client: the entry module (index.html loads it with
 * <script type="module">). No build step, no external URLs.
 *
 *   ringmq.js      the reusable client: sockets with back-off, msg_id
 *                  de-duplication, call records holding early offers and ICE
 *                  candidates, signaling and the HTTP API (docs/web-client.md)
 *   demo-shared.js window.ringmq (the page's state, for tests), DOM helpers
 *   demo-calls.js  the call state machine, media, peer connection, call UI
 *   demo-pages.js  login, the hash router and its pages, chat, notifications
 *
 * Talks to the ringmq bridge only (same origin) with the frames of PROTOCOL.md.
 * Signaling follows the seed's frontend: call.* frames go on the chat socket
 * when it is open for the call's conversation, else on the notification
 * socket; frames arriving on both are deduped by msg_id and our own echo
 * (from_device = one of our sockets) is ignored, all in ringmq.js.
 */
import { RingmqClient } from './ringmq.js';
import { FRAMES_MAX, R, push } from './demo-shared.js';
import { accept, decline, hangup, initCalls, setState, startCall } from './demo-calls.js';
import { initPages, login, refreshHistorySoon, route, savedToken, tokenFromUrl } from './demo-pages.js';

const client = R.client = new RingmqClient();

/* the last frames received, for the test dumps */
client.on('frame', (d) => {
  push(R.frames, { via: d.target.name, frame: d.frame, at: Date.now() }, FRAMES_MAX);
});

initCalls(client, { onEnded: refreshHistorySoon });
initPages(client, { hangup });

R.api = { startCall, accept, decline, hangup, route };

setState('idle', 'No call');
const t = tokenFromUrl() || savedToken();
if (t) login(t, true);
