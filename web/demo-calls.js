/*
 * ringmq demo: the call UI. At most one call at a time, its state machine
 * (idle → calling | incoming → connecting → connected → ended), media, the
 * peer connection and the call panel / incoming-call modal. Signaling,
 * de-duplication and holding early offers and ICE candidates are ringmq.js's
 * (RingmqClient): this module listens to its events and calls its methods.
 *
 * State is mirrored for tests in window.ringmq (R), <body data-call-state>,
 * #call-panel[data-state] and #call-status[data-state].
 */
import { $, ACTIVE, DEFAULT_CONVERSATION, ERRORS_MAX, R, push, text, toast, validId } from './demo-shared.js';

/** @type {import('./ringmq.js').RingmqClient} */
let client = null;
let onEnded = () => {};

/**
 * Wires the call UI to a client.
 * @param {import('./ringmq.js').RingmqClient} c
 * @param {{onEnded?: () => void}} [hooks] onEnded: a call just ended (refresh the history)
 */
export function initCalls(c, hooks = {}) {
  client = c;
  if (hooks.onEnded) onEnded = hooks.onEnded;
  client.on('incoming', ring);
  client.on('answer', (d) => {
    if (d.applied && d.callId === R.callId && R.state === 'calling') setState('connecting', 'Connecting to ' + peerName() + '…');
  });
  client.on('accepted', (d) => {
    if (d.callId !== R.callId || d.mine) return;
    if (R.role === 'caller' && R.state === 'calling') text($('call-status'), peerName() + ' accepted, connecting…');
  });
  client.on('end', (d) => {
    if (d.callId !== R.callId || !ACTIVE[R.state]) return;
    finish(d.reason, d.endedBy,
      d.reason === 'answered_elsewhere' ? 'Answered on another device' : endText(d.reason, d.endedBy));
  });
  client.on('error', onError);

  $('call-video').onclick = () => { startCall('video'); };
  $('call-voice').onclick = () => { startCall('voice'); };
  $('chat-call-video').onclick = () => { startCall('video'); };
  $('chat-call-voice').onclick = () => { startCall('voice'); };
  $('accept').onclick = accept;
  $('decline').onclick = decline;
  $('hangup').onclick = hangup;
  $('call-dismiss').onclick = () => { if (!ACTIVE[R.state]) setState('idle', 'No call'); };
  R.inboundBytes = inboundBytes;
  R.iceStats = iceStats;
}

export function setState(s, status) {
  R.state = s;
  R.states.push(s);
  document.body.dataset.callState = s;
  $('call-panel').dataset.state = s;
  $('call-status').dataset.state = s;
  if (status != null) text($('call-status'), status);
  $('call-panel').hidden = s === 'idle' || s === 'incoming';
  $('hangup').hidden = !ACTIVE[s];
  $('call-dismiss').hidden = !!ACTIVE[s];
  $('incoming-modal').hidden = s !== 'incoming';
  ['call-video', 'call-voice', 'chat-call-video', 'chat-call-voice'].forEach((id) => {
    $(id).disabled = !!ACTIVE[s];
  });
}

function peerName() {
  const c = R.call;
  if (!c) return 'the other side';
  if (R.role === 'caller') return c.receiver_username || c.receiver_id;
  return c.caller_username || c.caller_id;
}

function endText(reason, by) {
  const other = peerName();
  const byMe = by != null && String(by) === R.userId;
  switch (reason) {
  case 'declined':
    return R.role === 'caller' ? other + ' declined the call' : 'Declined';
  case 'cancelled':
    return R.role === 'receiver' ? 'Missed call from ' + other + ' (cancelled)' : 'Call cancelled';
  case 'missed':
    return R.role === 'caller' ? 'No answer: ' + other + ' missed the call' : 'Missed call from ' + other;
  default:
    return byMe ? 'You hung up' : 'Call ended by ' + other;
  }
}

function currentConversation() {
  const v = $('conversation-id').value.trim();
  return validId(v) ? v : DEFAULT_CONVERSATION;
}

/* ---------- errors ---------- */

function onError(d) {
  if (d.local) {
    if (d.stage === 'addIceCandidate') {
      push(R.errors, { local: 'addIceCandidate', message: d.message }, ERRORS_MAX);
    } else if (d.stage === 'answer' && d.callId === R.callId && ACTIVE[R.state]) {
      client.end(d.callId, 'hangup');
      finish('failed', R.userId, 'Bad answer from the other side: ' + d.message);
    }
    return;
  }
  const f = d.frame;
  /* A frame that crossed the call's end on the wire (we sent the offer as
   * the other side declined): the call is over here too, nothing to say. */
  if (f.code === 'invalid_state' && f.call_id && f.call_id === R.callId && !ACTIVE[R.state]) {
    R.lateRefusals++;
    return;
  }
  push(R.errors, f, ERRORS_MAX);
  toast('Server: ' + (f.code || 'error') + (f.ref ? ' (' + f.ref + ')' : '') + ': ' + (f.message || ''), 'bad');
  /* the service refused our offer or answer: this call cannot go on */
  if (f.call_id && f.call_id === R.callId && ACTIVE[R.state] &&
      (f.ref === 'call.offer' || f.ref === 'call.answer')) {
    finish('error', null, 'The server refused the ' + f.ref.slice(5) + ' (' + f.code + ')');
  }
}

/* ---------- media and the peer connection ---------- */

async function getMedia(type) {
  try {
    return await navigator.mediaDevices.getUserMedia({ audio: true, video: type === 'video' });
  } catch (e) {
    if (type === 'video') {  /* no camera: go on with the microphone */
      return await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
    }
    throw e;
  }
}

function stopStream(stream) { stream.getTracks().forEach((t) => { t.stop(); }); }

function playVideo(el) {
  const p = el.play();
  if (p && p.catch) p.catch(() => { el.muted = true; el.play().catch(() => {}); });
}

/* The configuration of the next peer connection: the ICE servers the
 * service gives this user (GET /calls/ice-servers/: TURN with a credential
 * made for this call, STUN) and, with "relay only" ticked, media through
 * TURN alone. Without an answer the call goes on with host candidates
 * (enough on one network). */
async function pcConfig() {
  const relay = $('relay-only').checked;
  let iceServers = [];
  try {
    const r = await client.iceServers();
    if (r.ok && r.data && Array.isArray(r.data.ice_servers)) iceServers = r.data.ice_servers;
    else push(R.errors, { local: 'ice-servers', message: 'GET /calls/ice-servers/ answered ' + r.status }, ERRORS_MAX);
  } catch (e) {
    push(R.errors, { local: 'ice-servers', message: e instanceof Error ? e.message : String(e) }, ERRORS_MAX);
  }
  if (relay && !iceServers.some((s) => s.username)) toast('Relay only, but the service has no TURN server: the call cannot connect', 'bad');
  return { iceServers, iceTransportPolicy: relay ? 'relay' : 'all' };
}

/* A peer connection for the call, handed to the client (which sends its ICE
 * candidates and gives it the held ones); its media goes to #remote-video. */
function makePc(callId, config) {
  R.pcConfig = config;
  const pc = new RTCPeerConnection(config);
  pc.ontrack = (ev) => {
    if (R.pc !== pc) return;
    let stream = ev.streams && ev.streams[0];
    if (!stream) {
      stream = R.remoteStream || new MediaStream();
      stream.addTrack(ev.track);
    }
    R.remoteStream = stream;
    const v = $('remote-video');
    if (v.srcObject !== stream) { v.srcObject = stream; playVideo(v); }
  };
  pc.onconnectionstatechange = () => {
    if (R.pc !== pc) return;
    const s = pc.connectionState;
    R.pcState = s;
    if (s === 'connected') setState('connected', 'Connected with ' + peerName());
    else if (s === 'disconnected' && R.state === 'connected') text($('call-status'), 'Connection unstable…');
    else if (s === 'failed') {
      client.end(callId, 'hangup');
      finish('failed', R.userId, 'The connection failed');
    }
  };
  R.pc = pc;
  client.attach(callId, pc);
  return pc;
}

function addLocal(pc, stream) {
  R.localStream = stream;
  stream.getTracks().forEach((t) => { pc.addTrack(t, stream); });
  const v = $('local-video');
  v.srcObject = stream;
  playVideo(v);
}

/* ---------- caller ---------- */

/* POST /calls/initiate/, then media, peer connection and offer. */
export async function startCall(type) {
  if (ACTIVE[R.state]) return;
  const receiver = $('receiver-id').value.trim();
  const cid = currentConversation();
  if (!validId(receiver)) { toast('Whom to call? Enter a user id.', 'bad'); return; }
  const mine = R.call = { call_id: null, caller_id: R.userId, caller_username: R.username,
    receiver_id: receiver, call_type: type, conversation_id: cid };
  R.role = 'caller';
  R.callId = null;
  R.endReason = R.endedBy = null;
  setState('calling', 'Calling ' + receiver + '…');
  let r;
  try {
    r = await client.initiate({ receiverId: receiver, callType: type, conversationId: cid });
  } catch (e) {
    return finish('error', null, 'Could not reach the server: ' + e.message);
  }
  if (r.status === 409) return finish('busy', null, receiver + ' is busy (in another call)');
  if (r.status !== 201 || !r.data || !r.data.call_id) {
    const why = r.data && (r.data.message || r.data.error);
    return finish('error', null, 'Call failed (' + r.status + (why ? ': ' + why : '') + ')');
  }
  const callId = r.data.call_id;
  mine.call_id = callId;
  if (R.call !== mine || R.state !== 'calling') {
    /* hung up while /calls/initiate/ was on its way: end the call it made */
    client.end(callId, 'cancelled');
    return;
  }
  R.callId = callId;
  R.call.created_at = r.data.created_at;
  if (r.ended) return finish(r.ended.reason, r.ended.endedBy, endText(r.ended.reason, r.ended.endedBy));
  setState('calling', 'Ringing ' + receiver + '…' + (r.data.receiver_online === false ? ' (offline: rings when they come back)' : ''));
  try {
    const config = await pcConfig();
    const stream = await getMedia(type);
    if (R.callId !== callId || !ACTIVE[R.state]) { stopStream(stream); return; }
    const pc = makePc(callId, config);
    addLocal(pc, stream);
    await client.makeOffer(callId, { callType: type });
  } catch (e) {
    if (R.callId !== callId || !ACTIVE[R.state]) return;
    client.end(callId, 'cancelled');
    finish('error', R.userId, 'Could not start the call: ' + e.message);
  }
}

/* ---------- receiver ---------- */

/* The client says a call rings for us: show the modal (one call at a time:
 * a call that rings while another goes on is left to time out). */
function ring(d) {
  if (ACTIVE[R.state]) return;
  const f = d.frame;
  R.callId = d.callId;
  R.role = 'receiver';
  R.answered = false;
  R.endReason = R.endedBy = null;
  R.call = { call_id: d.callId, caller_id: f.caller_id, caller_username: f.caller_username,
    receiver_id: R.userId, call_type: f.call_type || 'video', conversation_id: f.conversation_id };
  text($('incoming-text'), 'Incoming ' + R.call.call_type + ' call from ' + (f.caller_username || f.caller_id));
  setState('incoming', 'Incoming call from ' + (f.caller_username || f.caller_id));
}

export async function accept() {
  if (R.state !== 'incoming') return;
  const id = R.callId;
  R.answered = true;
  client.accept(id);
  setState('connecting', 'Connecting to ' + peerName() + '…');
  try {
    const config = await pcConfig();
    const stream = await getMedia(R.call.call_type);
    if (R.callId !== id || !ACTIVE[R.state]) { stopStream(stream); return; }
    const pc = makePc(id, config);
    addLocal(pc, stream);
  } catch (e) {
    if (R.callId !== id || !ACTIVE[R.state]) return;
    client.end(id, 'declined');
    finish('error', R.userId, 'Could not answer: ' + e.message);
    return;
  }
  const rec = client.record(id);
  if (!rec || !rec.offer) text($('call-status'), 'Waiting for ' + peerName() + "'s offer…");
  try {
    await client.makeAnswer(id);   /* waits for the offer if it is not there yet */
  } catch (e) {
    if (R.callId !== id || !ACTIVE[R.state]) return;
    client.end(id, 'hangup');
    finish('failed', R.userId, 'Could not answer: ' + e.message);
  }
}

export function decline() {
  if (R.state !== 'incoming') return;
  client.end(R.callId, 'declined');
  finish('declined', R.userId, 'Declined');
}

/* Hang up whatever is going on; the reason the service will decide is shown. */
export function hangup() {
  if (!ACTIVE[R.state]) return;
  const id = R.callId;
  const reason = R.state === 'incoming' ? 'declined'
    : (R.role === 'caller' && R.state === 'calling') ? 'cancelled' : 'hangup';
  if (id) client.end(id, reason);
  /* else /calls/initiate/ is still on its way: startCall ends the call it made */
  finish(reason, R.userId, reason === 'cancelled' ? 'Call cancelled' : reason === 'declined' ? 'Declined' : 'You hung up');
}

/* The call is over: say why, stop media, keep the panel up with the reason. */
function finish(reason, by, status) {
  const id = R.callId;
  if (id) client.forget(id, reason, by == null ? null : String(by));   /* its late frames are ignored */
  R.endReason = reason;
  R.endedBy = by == null ? null : String(by);
  if (R.pc) { try { R.pc.close(); } catch (e) { /* already closed */ } }
  R.lastPc = R.pc;
  R.pc = null;
  if (R.localStream) stopStream(R.localStream);
  R.localStream = null;
  R.remoteStream = null;
  $('local-video').srcObject = null;
  $('remote-video').srcObject = null;
  $('call-status').dataset.reason = reason;
  setState('ended', status);
  if (reason === 'missed' || reason === 'cancelled' && R.role === 'receiver') toast(status, 'bad');
  onEnded();
}

/* The number of bytes received by inbound RTP streams so far (for tests). */
async function inboundBytes() {
  const pc = R.pc;
  if (!pc) return 0;
  let total = 0;
  const stats = await pc.getStats();
  stats.forEach((s) => { if (s.type === 'inbound-rtp') total += s.bytesReceived || 0; });
  return total;
}

/* The candidate types (host, srflx, prflx, relay) of the selected candidate
 * pair on each side, and the video frames decoded so far (for tests). */
async function iceStats() {
  const pc = R.pc;
  const out = { local: null, remote: null, framesDecoded: 0 };
  if (!pc) return out;
  const stats = await pc.getStats();
  let pair = null;
  stats.forEach((s) => {
    if (s.type === 'transport' && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId);
    if (s.type === 'inbound-rtp' && s.kind === 'video') out.framesDecoded += s.framesDecoded || 0;
  });
  if (pair) {
    const local = stats.get(pair.localCandidateId), remote = stats.get(pair.remoteCandidateId);
    out.local = local ? local.candidateType : null;
    out.remote = remote ? remote.candidateType : null;
  }
  return out;
}
