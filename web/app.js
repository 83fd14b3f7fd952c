/*
 * ringmq demo client.
 *
 * Owns: the login token (sessionStorage), the hash router, ONE global
 * notification socket (/ws/notifications/) kept open across route changes
 * and reopened with back-off, the chat socket of the chat route
 * (/ws/chat/<id>/), and at most one WebRTC call at a time.
 * Talks to: the ringmq bridge only (same origin): POST /calls/initiate/,
 * GET /calls/, and the two sockets, with the frames of PROTOCOL.md.
 *
 * Signaling follows the seed's frontend: call.* frames go on the chat socket
 * when it is open for the call's conversation, else on the notification
 * socket. Frames arrive on both (room + notification copy): they are deduped
 * by msg_id, and our own echo (from_device = one of our sockets) is ignored.
 *
 * For tests, window.ringmq exposes the state (state, callId, role, pc,
 * endReason, deviceId, ...) and <body data-call-state>, #call-status
 * [data-state], #notif-status[data-state] mirror it.
 */
(function () {
  'use strict';

  var TOKEN_KEY = 'ringmq.token';
  var DEFAULT_CONVERSATION = 'demo';
  var BACKOFF_MIN_MS = 500;
  var BACKOFF_MAX_MS = 10000;
  var SEEN_MAX = 1000;          /* msg_ids remembered for dedupe */
  var HELD_MAX = 200;           /* ICE candidates held per call */
  var OUTBOX_MAX = 200;         /* frames queued while no socket is open */
  var CHAT_MAX = 200;           /* chat lines kept on screen */
  var PEERS = { alice: 'bob', bob: 'alice' };
  var ACTIVE = { calling: 1, incoming: 1, connecting: 1, connected: 1 };

  var $ = function (id) { return document.getElementById(id); };

  /* Everything a test or a curious person may want to look at. */
  var R = window.ringmq = {
    state: 'idle',        /* idle | calling | incoming | connecting | connected | ended */
    callId: null,
    role: null,           /* caller | receiver */
    call: null,           /* {call_id, caller_id, caller_username, receiver_id, call_type, conversation_id} */
    endReason: null,      /* hangup | declined | cancelled | missed | busy | answered_elsewhere | failed | error */
    endedBy: null,
    pc: null,
    localStream: null,
    remoteStream: null,
    userId: null,
    username: null,
    token: null,
    deviceId: null,       /* notification socket's device_id */
    chatDeviceId: null,   /* chat socket's device_id */
    features: [],
    notifSocket: null,
    chatSocket: null,
    notifConnects: 0,     /* how many times the notification socket was (re)opened */
    states: [],           /* every state this tab went through, in order */
    frames: [],           /* last frames received (bounded) */
    errors: [],           /* error frames and local failures (bounded) */
    inboundBytes: inboundBytes
  };

  /* ---------- small helpers ---------- */

  function push(list, item, max) {
    list.push(item);
    if (list.length > max) list.splice(0, list.length - max);
  }

  function text(el, s) { el.textContent = s == null ? '' : String(s); }

  function toast(msg, kind) {
    var t = document.createElement('div');
    t.className = 'toast ' + (kind || '');
    text(t, msg);
    $('toasts').appendChild(t);
    setTimeout(function () { t.remove(); }, 6000);
  }

  function b64urlJson(part) {
    var s = part.replace(/-/g, '+').replace(/_/g, '/');
    while (s.length % 4) s += '=';
    var bin = atob(s);
    var bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return JSON.parse(new TextDecoder().decode(bytes));
  }

  /* The claims of a JWT, unverified (the bridge verifies). */
  function claims(token) {
    var parts = token.split('.');
    if (parts.length !== 3) throw new Error('not a JWT');
    return b64urlJson(parts[1]);
  }

  function wsUrl(path) {
    var proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return proto + '//' + location.host + path + '?token=' + encodeURIComponent(R.token);
  }

  function validId(s) { return /^[A-Za-z0-9_-]{1,64}$/.test(s); }

  /* ---------- login ---------- */

  function tokenFromUrl() {
    var q = new URLSearchParams(location.search);
    var t = q.get('token');
    if (!t) return null;
    q.delete('token');
    var rest = q.toString();
    history.replaceState(null, '', location.pathname + (rest ? '?' + rest : '') + location.hash);
    return t.trim();
  }

  function login(token, remember) {
    var c;
    try { c = claims(token); } catch (e) {
      text($('login-error'), 'That is not a token: ' + e.message);
      return false;
    }
    var uid = c.sub != null ? c.sub : c.user_id;
    if (uid == null) { text($('login-error'), 'The token names no user (sub / user_id).'); return false; }
    if (c.exp && c.exp * 1000 < Date.now()) { text($('login-error'), 'That token has expired.'); return false; }
    R.token = token;
    R.userId = String(uid);
    R.username = c.name || c.username || c.preferred_username || R.userId;
    R.tokenExp = c.exp ? new Date(c.exp * 1000).toISOString() : 'never';
    if (remember) sessionStorage.setItem(TOKEN_KEY, token);
    text($('login-error'), '');
    text($('whoami'), R.username + ' (' + R.userId + ')');
    if (!$('receiver-id').value) $('receiver-id').value = PEERS[R.userId] || '';
    $('nav').hidden = $('callbar').hidden = $('me').hidden = false;
    $('login').hidden = true;
    notif.start();
    route();
    return true;
  }

  function logout(why) {
    sessionStorage.removeItem(TOKEN_KEY);
    if (ACTIVE[R.state]) hangup();
    notif.stop();
    chat.close();
    R.token = R.userId = null;
    $('nav').hidden = $('callbar').hidden = $('me').hidden = true;
    hidePages();
    $('login').hidden = false;
    document.body.dataset.page = 'login';
    text($('login-error'), why || '');
  }

  /* ---------- sockets ---------- */

  /*
   * A socket that reopens itself with exponential back-off (with jitter) until
   * stop(); 4401 (bad token) stops for good, 4403 (not a member) too.
   * onFrame(frame, sock) gets every parsed frame; sock.deviceId is set by the ack.
   */
  function Sock(name, path, statusEl, onFrame, onAck) {
    this.name = name;
    this.path = path;
    this.statusEl = statusEl;
    this.onFrame = onFrame;
    this.onAck = onAck;
    this.ws = null;
    this.deviceId = null;
    this.open = false;
    this.wanted = false;
    this.backoff = BACKOFF_MIN_MS;
    this.timer = null;
  }

  Sock.prototype.setStatus = function (s) {
    if (this.statusEl) { this.statusEl.dataset.state = s; this.statusEl.title = this.name + ': ' + s; }
  };

  Sock.prototype.start = function () {
    if (this.wanted) return;
    this.wanted = true;
    this.connect();
  };

  Sock.prototype.connect = function () {
    var self = this;
    this.timer = null;
    if (!this.wanted) return;
    var ws;
    try { ws = new WebSocket(wsUrl(this.path)); } catch (e) { this.retry(); return; }
    this.ws = ws;
    this.setStatus('connecting');
    ws.onmessage = function (ev) {
      if (ws !== self.ws) return;
      var f;
      try { f = JSON.parse(ev.data); } catch (e) { return; }
      if (!f || typeof f !== 'object') return;
      if (f.type === 'connection.ack') {
        self.open = true;
        self.deviceId = f.device_id;
        self.backoff = BACKOFF_MIN_MS;
        self.setStatus('open');
        if (self.onAck) self.onAck(f, self);
        return;
      }
      self.onFrame(f, self);
    };
    ws.onclose = function (ev) {
      if (ws !== self.ws) return;
      self.open = false;
      self.ws = null;
      self.setStatus('closed');
      if (ev.code === 4401) { self.wanted = false; logout('The server refused the token (4401). Log in again.'); return; }
      if (ev.code === 4403) { self.wanted = false; self.setStatus('forbidden'); toast('Not a member of this conversation (4403).', 'bad'); return; }
      self.retry();
    };
    ws.onerror = function () { /* onclose follows */ };
  };

  Sock.prototype.retry = function () {
    if (!this.wanted || this.timer) return;
    var d = this.backoff * (0.75 + Math.random() * 0.5);
    this.backoff = Math.min(this.backoff * 2, BACKOFF_MAX_MS);
    this.setStatus('retrying');
    this.timer = setTimeout(this.connect.bind(this), d);
  };

  Sock.prototype.stop = function () {
    this.wanted = false;
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    var ws = this.ws;
    this.ws = null;
    this.open = false;
    this.setStatus('closed');
    if (ws) ws.close(1000);
  };

  Sock.prototype.send = function (f) {
    if (!this.open || !this.ws) return false;
    this.ws.send(JSON.stringify(f));
    return true;
  };

  /* Frames waiting for the notification socket to (re)open. */
  var outbox = [];

  var notif = new Sock('notifications', '/ws/notifications/', $('notif-status'), onFrame, function (ack, s) {
    R.deviceId = ack.device_id;
    R.myDevices[ack.device_id] = true;
    R.features = ack.features || [];
    R.notifConnects++;
    R.notifSocket = s;
    text($('profile-device'), ack.device_id);
    var q = outbox.splice(0);
    q.forEach(function (f) { s.send(f); });
  });
  R.myDevices = {};

  var chat = {
    sock: null,
    cid: null,
    openFor: function (cid) {
      if (this.sock && this.cid === cid) return;
      this.close();
      this.cid = cid;
      text($('chat-log'), '');
      var s = this.sock = new Sock('chat ' + cid, '/ws/chat/' + encodeURIComponent(cid) + '/', $('chat-status'), onFrame, function (ack) {
        R.chatDeviceId = ack.device_id;
        R.myDevices[ack.device_id] = true;
      });
      R.chatSocket = s;
      s.start();
    },
    close: function () {
      if (this.sock) this.sock.stop();
      this.sock = null;
      this.cid = null;
      R.chatSocket = null;
      R.chatDeviceId = null;
    }
  };

  /* Signaling goes on the chat socket when it is open for the call's
   * conversation (as the seed's frontend does), else the notification socket. */
  function sendSignal(f) {
    var cid = R.call && R.call.conversation_id;
    if (chat.sock && chat.sock.open && chat.cid === cid && chat.sock.send(f)) return 'chat';
    if (notif.send(f)) return 'notifications';
    push(outbox, f, OUTBOX_MAX);
    return 'queued';
  }

  /* ---------- frames in ---------- */

  var seen = {};
  var seenOrder = [];

  function duplicate(f) {
    if (!f.msg_id) return false;
    if (seen[f.msg_id]) return true;
    seen[f.msg_id] = true;
    seenOrder.push(f.msg_id);
    if (seenOrder.length > SEEN_MAX) delete seen[seenOrder.shift()];
    return false;
  }

  function onFrame(f, sock) {
    if (duplicate(f)) return;
    push(R.frames, { via: sock.name, frame: f, at: Date.now() }, 200);
    var mine = f.from_device != null && R.myDevices[f.from_device];
    switch (f.type) {
    case 'chat.message': return showChat(f, mine);
    case 'notification.created': return showNotification(f);
    case 'error': return onError(f);
    case 'pong': return;
    }
    if (typeof f.type === 'string' && f.type.indexOf('call.') === 0) {
      if (mine) return;          /* our own echo */
      onCallFrame(f);
    }
  }

  function onError(f) {
    push(R.errors, f, 100);
    toast('Server: ' + (f.code || 'error') + (f.ref ? ' (' + f.ref + ')' : '') + ': ' + (f.message || ''), 'bad');
    /* the service refused our offer or answer: this call cannot go on */
    if (f.call_id && f.call_id === R.callId && ACTIVE[R.state] &&
        (f.ref === 'call.offer' || f.ref === 'call.answer')) {
      finish('error', null, 'The server refused the ' + f.ref.slice(5) + ' (' + f.code + ')');
    }
  }

  /* ---------- chat ---------- */

  function showChat(f, mine) {
    var li = document.createElement('li');
    if (mine || f.sender_id === R.userId) li.className = 'mine';
    var who = document.createElement('b');
    text(who, (f.sender_username || f.sender_id || '?') + ': ');
    li.appendChild(who);
    li.appendChild(document.createTextNode(f.message != null ? f.message : (f.text != null ? f.text : f.content)));
    var log = $('chat-log');
    log.appendChild(li);
    while (log.children.length > CHAT_MAX) log.removeChild(log.firstChild);
    log.scrollTop = log.scrollHeight;
  }

  function showNotification(f) {
    var list = $('notifications');
    if (list.querySelector('.muted')) text(list, '');
    var li = document.createElement('li');
    var p = f.payload;
    text(li, (p && (p.title || p.text || p.message)) || JSON.stringify(p));
    list.insertBefore(li, list.firstChild);
    toast('Notification: ' + li.textContent);
  }

  /* ---------- the call ---------- */

  /* Offers/candidates that arrived before we could use them, by call_id. */
  var heldOffer = {};
  var heldIce = {};
  var endedCalls = {};
  var acceptWaitingOffer = false;

  function setState(s, status) {
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
    ['call-video', 'call-voice', 'chat-call-video', 'chat-call-voice'].forEach(function (id) {
      $(id).disabled = !!ACTIVE[s];
    });
  }

  function peerName() {
    var c = R.call;
    if (!c) return 'the other side';
    if (R.role === 'caller') return c.receiver_username || c.receiver_id;
    return c.caller_username || c.caller_id;
  }

  function normSdp(x, type) {
    if (typeof x === 'string') {
      try { var o = JSON.parse(x); if (o && o.sdp) return o; } catch (e) { /* a bare SDP */ }
      return { type: type, sdp: x };
    }
    return x;
  }

  function normIce(x) {
    if (typeof x === 'string') {
      try { return JSON.parse(x); } catch (e) { return { candidate: x, sdpMid: '0', sdpMLineIndex: 0 }; }
    }
    return x;
  }

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

  function playVideo(el) {
    var p = el.play();
    if (p && p.catch) p.catch(function () { el.muted = true; el.play().catch(function () {}); });
  }

  function makePc(callId) {
    var pc = new RTCPeerConnection({ iceServers: [] });
    pc.onicecandidate = function (ev) {
      if (!ev.candidate || R.callId !== callId) return;
      sendSignal({ type: 'call.ice_candidate', call_id: callId, candidate: ev.candidate.toJSON() });
    };
    pc.ontrack = function (ev) {
      if (R.pc !== pc) return;
      var stream = ev.streams && ev.streams[0];
      if (!stream) {
        stream = R.remoteStream || new MediaStream();
        stream.addTrack(ev.track);
      }
      R.remoteStream = stream;
      var v = $('remote-video');
      if (v.srcObject !== stream) { v.srcObject = stream; playVideo(v); }
    };
    pc.onconnectionstatechange = function () {
      if (R.pc !== pc) return;
      var s = pc.connectionState;
      R.pcState = s;
      if (s === 'connected') setState('connected', 'Connected with ' + peerName());
      else if (s === 'disconnected' && R.state === 'connected') text($('call-status'), 'Connection unstable…');
      else if (s === 'failed') {
        sendSignal({ type: 'call.end', call_id: callId, reason: 'hangup' });
        finish('failed', R.userId, 'The connection failed');
      }
    };
    R.pc = pc;
    return pc;
  }

  function addLocal(pc, stream) {
    R.localStream = stream;
    stream.getTracks().forEach(function (t) { pc.addTrack(t, stream); });
    var v = $('local-video');
    v.srcObject = stream;
    playVideo(v);
  }

  async function flushIce(callId) {
    var list = heldIce[callId] || [];
    delete heldIce[callId];
    for (var i = 0; i < list.length; i++) {
      try { await R.pc.addIceCandidate(list[i]); } catch (e) { push(R.errors, { local: 'addIceCandidate', message: String(e) }, 100); }
    }
  }

  function holdIce(callId, c) {
    var l = heldIce[callId] || (heldIce[callId] = []);
    if (l.length < HELD_MAX) l.push(c);
  }

  async function authFetch(method, path, body) {
    var res = await fetch(path, {
      method: method,
      headers: { 'Authorization': 'Bearer ' + R.token, 'Content-Type': 'application/json' },
      body: body ? JSON.stringify(body) : undefined
    });
    var data = null;
    try { data = await res.json(); } catch (e) { /* empty body */ }
    return { status: res.status, data: data };
  }

  /* Caller: POST /calls/initiate/, then media, peer connection and offer. */
  async function startCall(type) {
    if (ACTIVE[R.state]) return;
    var receiver = $('receiver-id').value.trim();
    var cid = currentConversation();
    if (!validId(receiver)) { toast('Whom to call? Enter a user id.', 'bad'); return; }
    var mine = R.call = { call_id: null, caller_id: R.userId, caller_username: R.username,
      receiver_id: receiver, call_type: type, conversation_id: cid };
    R.role = 'caller';
    R.callId = null;
    R.endReason = R.endedBy = null;
    setState('calling', 'Calling ' + receiver + '…');
    var r;
    try {
      r = await authFetch('POST', '/calls/initiate/', { receiver_id: receiver, call_type: type, conversation_id: cid });
    } catch (e) {
      return finish('error', null, 'Could not reach the server: ' + e.message);
    }
    if (r.status === 409) return finish('busy', null, receiver + ' is busy (in another call)');
    if (r.status !== 201 || !r.data || !r.data.call_id) {
      var why = r.data && (r.data.message || r.data.error);
      return finish('error', null, 'Call failed (' + r.status + (why ? ': ' + why : '') + ')');
    }
    var callId = r.data.call_id;
    mine.call_id = callId;
    if (R.call !== mine || R.state !== 'calling') {
      /* hung up while /calls/initiate/ was on its way: end the call it made */
      endedCalls[callId] = true;
      if (!notif.send({ type: 'call.end', call_id: callId, reason: 'cancelled' })) push(outbox, { type: 'call.end', call_id: callId, reason: 'cancelled' }, OUTBOX_MAX);
      return;
    }
    R.callId = callId;
    R.call.created_at = r.data.created_at;
    var early = endedCalls[callId];
    if (early) return finish(early.reason || 'hangup', early.by, endText(early.reason, early.by));
    setState('calling', 'Ringing ' + receiver + '…' + (r.data.receiver_online === false ? ' (offline: rings when they come back)' : ''));
    try {
      var stream = await getMedia(type);
      if (R.callId !== callId || !ACTIVE[R.state]) { stream.getTracks().forEach(function (t) { t.stop(); }); return; }
      var pc = makePc(callId);
      addLocal(pc, stream);
      var offer = await pc.createOffer();
      await pc.setLocalDescription(offer);
      if (R.callId !== callId) return;
      sendSignal({ type: 'call.offer', call_id: callId, offer: { type: offer.type, sdp: offer.sdp }, call_type: type });
    } catch (e) {
      if (R.callId !== callId) return;
      sendSignal({ type: 'call.end', call_id: callId, reason: 'cancelled' });
      finish('error', R.userId, 'Could not start the call: ' + e.message);
    }
  }

  /* A frame about some call, from the other side or the service. */
  async function onCallFrame(f) {
    var id = f.call_id;
    if (!id) return;
    /* our own signaling from another tab or device (a room copy): not for us */
    if (f.sender_id != null && String(f.sender_id) === R.userId &&
        (f.type === 'call.offer' || f.type === 'call.answer' || f.type === 'call.ice_candidate')) return;
    var current = id === R.callId;
    switch (f.type) {
    case 'call.incoming':
      if (endedCalls[id] || current) return;
      return ring(f);
    case 'call.offer':
      if (endedCalls[id]) return;
      if (current) {
        /* the first offer of a call we ring for (or accepted, before the
         * offer came): keep it for accept(); renegotiation is not supported */
        if (R.role === 'receiver' && !R.offerTaken && !heldOffer[id]) {
          heldOffer[id] = normSdp(f.offer, 'offer');
          if (acceptWaitingOffer) answerWith(id);
        }
        return;
      }
      if (ACTIVE[R.state]) return;
      heldOffer[id] = normSdp(f.offer, 'offer');
      return ring(f);   /* an offer for a call we never heard of rings too (seed) */
    case 'call.ice_candidate':
      if (endedCalls[id] || !f.candidate) return;
      var c = normIce(f.candidate);
      if (current && R.pc && R.pc.remoteDescription) {
        try { await R.pc.addIceCandidate(c); } catch (e) { push(R.errors, { local: 'addIceCandidate', message: String(e) }, 100); }
      } else {
        holdIce(id, c);
      }
      return;
    case 'call.answer':
      if (!current || R.role !== 'caller' || !R.pc) return;
      if (R.pc.signalingState !== 'have-local-offer') return;
      try {
        await R.pc.setRemoteDescription(normSdp(f.answer, 'answer'));
        if (R.callId !== id) return;
        await flushIce(id);
        if (R.state === 'calling') setState('connecting', 'Connecting to ' + peerName() + '…');
      } catch (e) {
        sendSignal({ type: 'call.end', call_id: id, reason: 'hangup' });
        finish('failed', R.userId, 'Bad answer from the other side: ' + e.message);
      }
      return;
    case 'call.accepted':
      if (!current) return;
      if (R.myDevices[f.device_id]) return;
      if (R.role === 'receiver' && R.state === 'incoming') {
        endedCalls[id] = true;
        finish('answered_elsewhere', R.userId, 'Answered on another device');
      } else if (R.role === 'caller' && R.state === 'calling') {
        text($('call-status'), peerName() + ' accepted, connecting…');
      }
      return;
    case 'call.end':
      if (!endedCalls[id]) endedCalls[id] = { reason: f.reason, by: f.ended_by };
      delete heldOffer[id];
      delete heldIce[id];
      if (!current || !ACTIVE[R.state]) return;
      return finish(f.reason || 'hangup', f.ended_by, endText(f.reason, f.ended_by));
    }
  }

  function endText(reason, by) {
    var other = peerName();
    var byMe = by != null && String(by) === R.userId;
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

  function ring(f) {
    if (ACTIVE[R.state]) return;   /* one call at a time: the service times it out */
    if (String(f.caller_id) === R.userId) return;   /* placed from another tab of ours */
    R.callId = f.call_id;
    R.role = 'receiver';
    R.answered = false;
    R.offerTaken = false;
    R.endReason = R.endedBy = null;
    acceptWaitingOffer = false;
    R.call = { call_id: f.call_id, caller_id: f.caller_id, caller_username: f.caller_username,
      receiver_id: R.userId, call_type: f.call_type || 'video', conversation_id: f.conversation_id };
    text($('incoming-text'), 'Incoming ' + R.call.call_type + ' call from ' + (f.caller_username || f.caller_id));
    setState('incoming', 'Incoming call from ' + (f.caller_username || f.caller_id));
  }

  async function accept() {
    if (R.state !== 'incoming') return;
    var id = R.callId;
    R.answered = true;
    setState('connecting', 'Connecting to ' + peerName() + '…');
    try {
      var stream = await getMedia(R.call.call_type);
      if (R.callId !== id || !ACTIVE[R.state]) { stream.getTracks().forEach(function (t) { t.stop(); }); return; }
      var pc = makePc(id);
      addLocal(pc, stream);
      if (heldOffer[id]) await answerWith(id);
      else { acceptWaitingOffer = true; text($('call-status'), 'Waiting for ' + peerName() + "'s offer…"); }
    } catch (e) {
      if (R.callId !== id) return;
      sendSignal({ type: 'call.end', call_id: id, reason: 'declined' });
      finish('error', R.userId, 'Could not answer: ' + e.message);
    }
  }

  async function answerWith(id) {
    acceptWaitingOffer = false;
    var offer = heldOffer[id];
    if (!offer || R.offerTaken) return;
    R.offerTaken = true;
    delete heldOffer[id];
    var pc = R.pc;
    try {
      await pc.setRemoteDescription(offer);
      await flushIce(id);
      var answer = await pc.createAnswer();
      await pc.setLocalDescription(answer);
      if (R.callId !== id || R.pc !== pc) return;
      sendSignal({ type: 'call.answer', call_id: id, answer: { type: answer.type, sdp: answer.sdp } });
    } catch (e) {
      if (R.callId !== id) return;
      sendSignal({ type: 'call.end', call_id: id, reason: 'hangup' });
      finish('failed', R.userId, 'Could not answer: ' + e.message);
    }
  }

  function decline() {
    if (R.state !== 'incoming') return;
    var id = R.callId;
    endedCalls[id] = true;
    sendSignal({ type: 'call.end', call_id: id, reason: 'declined' });
    finish('declined', R.userId, 'Declined');
  }

  /* Hang up whatever is going on; the reason the service will decide is shown. */
  function hangup() {
    if (!ACTIVE[R.state]) return;
    var id = R.callId;
    var reason = R.state === 'incoming' ? 'declined'
      : (R.role === 'caller' && R.state === 'calling') ? 'cancelled' : 'hangup';
    if (id) {
      endedCalls[id] = true;
      sendSignal({ type: 'call.end', call_id: id, reason: reason });
    }   /* else /calls/initiate/ is still on its way: startCall ends the call it made */
    finish(reason, R.userId, reason === 'cancelled' ? 'Call cancelled' : reason === 'declined' ? 'Declined' : 'You hung up');
  }

  /* The call is over: say why, stop media, keep the panel up with the reason. */
  function finish(reason, by, status) {
    var id = R.callId;
    if (id) endedCalls[id] = true;
    R.endReason = reason;
    R.endedBy = by == null ? null : String(by);
    acceptWaitingOffer = false;
    if (R.pc) { try { R.pc.close(); } catch (e) { /* already closed */ } }
    R.lastPc = R.pc;
    R.pc = null;
    if (R.localStream) R.localStream.getTracks().forEach(function (t) { t.stop(); });
    R.localStream = null;
    R.remoteStream = null;
    $('local-video').srcObject = null;
    $('remote-video').srcObject = null;
    if (id) { delete heldOffer[id]; delete heldIce[id]; }
    $('call-status').dataset.reason = reason;
    setState('ended', status);
    if (reason === 'missed' || reason === 'cancelled' && R.role === 'receiver') toast(status, 'bad');
    refreshHistorySoon();
  }

  /* The number of bytes received by inbound RTP streams so far (for tests). */
  async function inboundBytes() {
    var pc = R.pc;
    if (!pc) return 0;
    var total = 0;
    var stats = await pc.getStats();
    stats.forEach(function (s) { if (s.type === 'inbound-rtp') total += s.bytesReceived || 0; });
    return total;
  }

  /* ---------- pages ---------- */

  function currentConversation() {
    var v = $('conversation-id').value.trim();
    return validId(v) ? v : DEFAULT_CONVERSATION;
  }

  function hidePages() {
    ['page-feed', 'page-profile', 'page-marketplace', 'page-chat'].forEach(function (p) { $(p).hidden = true; });
  }

  function route() {
    if (!R.token) return;
    var h = location.hash.replace(/^#\/?/, '').split('/');
    var page = h[0] || 'feed';
    if (['feed', 'profile', 'marketplace', 'chat'].indexOf(page) < 0) page = 'feed';
    hidePages();
    $('page-' + page).hidden = false;
    document.body.dataset.page = page;
    ['feed', 'profile', 'marketplace', 'chat'].forEach(function (p) {
      $('nav-' + p).classList.toggle('active', p === page);
    });
    if (page === 'chat') {
      var cid = decodeURIComponent(h[1] || '') || $('conversation-id').value.trim() || DEFAULT_CONVERSATION;
      if (!validId(cid)) cid = DEFAULT_CONVERSATION;
      $('conversation-id').value = cid;
      $('nav-chat').setAttribute('href', '#/chat/' + cid);
      text($('chat-title'), cid);
      chat.openFor(cid);
    } else {
      chat.close();
    }
    if (page === 'profile') showProfile();
  }

  function showProfile() {
    text($('profile-id'), R.userId);
    text($('profile-name'), R.username);
    text($('profile-exp'), R.tokenExp);
    text($('profile-device'), R.deviceId || '(not connected)');
    loadHistory();
  }

  var historyTimer = null;
  function refreshHistorySoon() {
    if (document.body.dataset.page !== 'profile' || historyTimer) return;
    historyTimer = setTimeout(function () { historyTimer = null; loadHistory(); }, 500);
  }

  async function loadHistory() {
    var list = $('call-history');
    var r;
    try { r = await authFetch('GET', '/calls/?limit=10'); } catch (e) { text(list, ''); return; }
    text(list, '');
    var calls = (r.data && r.data.calls) || [];
    if (!calls.length) {
      var li0 = document.createElement('li');
      li0.className = 'muted';
      text(li0, r.status === 200 ? 'no calls yet' : 'history unavailable (' + r.status + ')');
      list.appendChild(li0);
      return;
    }
    calls.forEach(function (c) {
      var li = document.createElement('li');
      var out = c.caller_id === R.userId;
      text(li, (out ? '→ ' + c.receiver_id : '← ' + c.caller_id) + ' · ' + c.call_type + ' · ' +
        (c.end_reason || c.status) + ' · ' + (c.created_at || '').replace('T', ' ').replace(/\.\d+Z$/, 'Z'));
      list.appendChild(li);
    });
  }

  /* ---------- wiring ---------- */

  $('login-btn').onclick = function () { login($('token-input').value.trim(), true); };
  $('logout').onclick = function () { logout(''); };
  $('call-video').onclick = function () { startCall('video'); };
  $('call-voice').onclick = function () { startCall('voice'); };
  $('chat-call-video').onclick = function () { startCall('video'); };
  $('chat-call-voice').onclick = function () { startCall('voice'); };
  $('accept').onclick = accept;
  $('decline').onclick = decline;
  $('hangup').onclick = hangup;
  $('call-dismiss').onclick = function () { if (!ACTIVE[R.state]) setState('idle', 'No call'); };
  $('refresh-calls').onclick = loadHistory;
  $('chat-form').onsubmit = function (ev) {
    ev.preventDefault();
    var msg = $('chat-input').value.trim();
    if (!msg || !chat.sock) return;
    if (chat.sock.send({ type: 'chat.message', message: msg })) $('chat-input').value = '';
    else toast('Chat is not connected yet.', 'bad');
  };
  window.addEventListener('hashchange', route);

  R.api = { startCall: startCall, accept: accept, decline: decline, hangup: hangup, route: route };

  setState('idle', 'No call');
  var t = tokenFromUrl() || sessionStorage.getItem(TOKEN_KEY);
  if (t) login(t, true);
})();
