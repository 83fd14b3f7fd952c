/**
 * @file ringmq.js: a small browser client for the ringmq call-signaling
 * service (the contract is PROTOCOL.md). One ES module, no dependencies, no
 * build step:
 *
 *     import { RingmqClient } from './ringmq.js';
 *
 * What it does:
 * - opens the notification socket (`/ws/notifications/`) and, when asked, the
 *   chat socket of one conversation (`/ws/chat/<id>/`), and reopens them with
 *   exponential back-off and jitter (0.5 s doubling to 30 s, ±25% by default;
 *   the back-off starts again from the beginning once a socket has stayed up
 *   10 s). 4401 (token refused, or reason "token expired": the socket outlived
 *   its token) and 4403 (not a member) stop a socket for good; setToken() a
 *   fresh token before the old one's exp to keep open sockets alive.
 * - drops duplicate frames (the room copy and the notification copy of a frame
 *   carry the same `msg_id`) with a fixed-size ring of recent ids, drops the
 *   echo of its own frames (`from_device` is one of its sockets) and the room
 *   copies of its user's own signaling from other tabs.
 * - keeps one record per live call (a Map of call_id → {@link CallRecord}): an
 *   offer and ICE candidates that arrive before the app's RTCPeerConnection can
 *   take them are held there, then applied in the order they came.
 * - remembers the last `endedSize` ended calls (call_id → {@link EndedInfo}),
 *   so late frames of an ended call are ignored; live records are capped too.
 * - sends signaling (`call.offer`, `call.answer`, `call.ice_candidate`,
 *   `call.end`) on the chat socket when it is open for the call's conversation,
 *   else on the notification socket, else queues it (bounded) until the
 *   notification socket is back.
 * - calls the HTTP API with the token (`POST /calls/initiate/`, `GET /calls/`,
 *   `GET /calls/<id>/`, `GET /calls/ice-servers/`).
 * - tells the app what happens through a tiny emitter: `client.on(type, fn)`,
 *   see {@link RingmqEventMap} for the events and what each one carries.
 *
 * It never touches the DOM, media devices or the page's URL: the app owns its
 * RTCPeerConnection, its streams and its UI.
 *
 * docs/web-client.md has the options, events and methods with an example.
 */

/* ================================================================ types */

/**
 * Any frame, in or out: a JSON object with a `type`.
 * @typedef {{type: string, [field: string]: any}} Frame
 */

/**
 * Fields the service stamps on every frame a client sent that reaches others.
 * @typedef {Object} RelayedFields
 * @property {string} [msg_id] one id per sent frame, the same on every copy
 * @property {string} [from_device] the `device_id` of the sending socket or MQTT client
 * @property {string} [sender_id] the authenticated sender
 * @property {string} [sender_username]
 */

/**
 * @typedef {Object} ConnectionAckFrame
 * @property {'connection.ack'} type
 * @property {string} user_id
 * @property {string} device_id names this connection
 * @property {string[]} [features] e.g. ["ice", "call.accepted", "history"]
 */

/**
 * @typedef {RelayedFields & {
 *   type: 'call.incoming', call_id: string, caller_id: string, caller_username: string,
 *   call_type: CallType, conversation_id: string
 * }} CallIncomingFrame
 */

/**
 * @typedef {RelayedFields & {
 *   type: 'call.offer', call_id: string, caller_id: string, caller_username: string,
 *   call_type: CallType, conversation_id: string, offer: RTCSessionDescriptionInit | string
 * }} CallOfferFrame
 */

/**
 * @typedef {RelayedFields & {
 *   type: 'call.answer', call_id: string, receiver_id: string, answer: RTCSessionDescriptionInit | string
 * }} CallAnswerFrame
 */

/**
 * @typedef {RelayedFields & {
 *   type: 'call.ice_candidate', call_id: string, candidate: RTCIceCandidateInit | string
 * }} CallIceFrame
 */

/**
 * Sent by the service to every device of both parties when the call is answered.
 * @typedef {{type: 'call.accepted', call_id: string, device_id: string}} CallAcceptedFrame
 */

/**
 * @typedef {RelayedFields & {
 *   type: 'call.end', call_id: string, reason: EndReason, ended_by: string | null
 * }} CallEndFrame
 */

/** @typedef {{type: 'notification.created', payload: Object}} NotificationFrame */

/**
 * @typedef {RelayedFields & {type: 'chat.message', message?: string, [field: string]: any}} ChatFrame
 */

/**
 * @typedef {Object} ErrorFrame
 * @property {'error'} type
 * @property {string} code bad_json, bad_frame, unknown_type, not_found, invalid_state,
 *   forbidden, rate_limited, unavailable, unauthorized
 * @property {string} [message]
 * @property {string} [ref] the type of the frame it answers, when known
 * @property {string} [call_id] when the refused frame named a call
 */

/** @typedef {'voice' | 'video'} CallType */

/**
 * The service's reasons (`hangup`, `declined`, `cancelled`, `missed`) and this
 * client's own: `answered_elsewhere` (another device of the user answered),
 * or whatever the app passed to {@link RingmqClient#end} / {@link RingmqClient#forget}.
 * @typedef {string} EndReason
 */

/** @typedef {'notifications' | 'chat'} SocketKind */

/** @typedef {'connecting' | 'open' | 'retrying' | 'closed' | 'forbidden'} SocketState */

/**
 * What is known about a call, in the service's field names.
 * @typedef {Object} CallInfo
 * @property {string} call_id
 * @property {string} [caller_id]
 * @property {string} [caller_username]
 * @property {string} [receiver_id]
 * @property {CallType} [call_type]
 * @property {string} [conversation_id]
 * @property {string} [created_at]
 */

/**
 * One live call. Read it (`client.record(id)`); the client changes it.
 * @typedef {Object} CallRecord
 * @property {string} callId
 * @property {'caller' | 'receiver' | null} role null: only ICE candidates heard of so far
 * @property {'ringing' | 'accepted'} state
 * @property {CallInfo} info
 * @property {RTCSessionDescriptionInit | null} offer the caller's offer, held until {@link RingmqClient#makeAnswer} takes it
 * @property {RTCIceCandidateInit[]} ice candidates held until the peer connection has a remote description
 * @property {RTCPeerConnection | null} pc the app's peer connection, after {@link RingmqClient#attach}
 * @property {boolean} answering this device is answering ({@link RingmqClient#accept})
 * @property {boolean} offerTaken the held offer went to the peer connection
 * @property {number} since Date.now() when the record was made
 */

/**
 * What is kept of an ended call (one kind of value for every ended call).
 * @typedef {Object} EndedInfo
 * @property {EndReason} reason
 * @property {string | null} endedBy user id, null when missed or unknown
 * @property {boolean} local ended by this client (end(), forget(), answered elsewhere)
 * @property {number} at Date.now() when it ended here
 */

/**
 * Back-off of socket reconnects: delay = min(maxMs, minMs · factor^attempt) · (1 ± jitter).
 * @typedef {Object} BackoffOptions
 * @property {number} [minMs=500]
 * @property {number} [maxMs=30000]
 * @property {number} [factor=2]
 * @property {number} [jitter=0.25] fraction, ±
 * @property {number} [stableMs=10000] a socket open this long resets the back-off
 */

/**
 * @typedef {Object} RingmqOptions
 * @property {string} [token] the user's JWT (also {@link RingmqClient#setToken})
 * @property {string} [baseUrl=''] origin of the bridge for HTTP, e.g. 'https://calls.example.com';
 *   '' is the page's origin
 * @property {string} [wsUrl] origin for the sockets, e.g. 'wss://calls.example.com';
 *   derived from baseUrl, else from the page's location
 * @property {BackoffOptions} [backoff]
 * @property {number} [ackTimeoutMs=10000] a socket with no connection.ack by then is closed and retried
 * @property {number} [dedupeSize=1000] msg_ids remembered for de-duplication
 * @property {number} [endedSize=200] ended calls remembered
 * @property {number} [maxCalls=32] live call records kept (the oldest goes first)
 * @property {number} [maxHeldIce=200] ICE candidates held per call
 * @property {number} [outboxSize=200] signaling frames queued while no socket is open
 * @property {typeof WebSocket} [WebSocket] constructor to use (tests, non-browser hosts)
 * @property {typeof fetch} [fetch] fetch to use (tests, non-browser hosts)
 */

/**
 * @typedef {Object} SocketEvent
 * @property {SocketKind} socket
 * @property {string | null} conversationId the chat socket's conversation
 * @property {RingmqSocket} target
 */

/**
 * @typedef {SocketEvent & {deviceId: string, userId: string, features: string[],
 *   connects: number, frame: ConnectionAckFrame}} OpenEvent
 */

/**
 * @typedef {SocketEvent & {code: number, reason: string, wasOpen: boolean,
 *   willRetry: boolean, retryInMs: number | null}} CloseEvent
 */

/** @typedef {SocketEvent & {state: SocketState}} StatusEvent */

/** @typedef {SocketEvent & {frame: Frame, mine: boolean}} FrameEvent */

/**
 * @typedef {Object} IncomingEvent
 * @property {string} callId
 * @property {CallInfo} call
 * @property {CallRecord} record
 * @property {CallIncomingFrame | CallOfferFrame} frame
 * @property {boolean} viaOffer an offer for a call never announced rang (as the seed's frontend does)
 */

/**
 * @typedef {Object} OfferEvent
 * @property {string} callId
 * @property {RTCSessionDescriptionInit} offer
 * @property {boolean} held kept in the record for makeAnswer(); false for a later offer
 *   (renegotiation, which the client leaves to the app)
 * @property {CallRecord} record
 * @property {CallOfferFrame} frame
 */

/**
 * @typedef {Object} AnswerEvent
 * @property {string} callId
 * @property {RTCSessionDescriptionInit} answer
 * @property {boolean} applied set as the remote description of the attached peer
 *   connection (and the held ICE candidates added)
 * @property {CallRecord | null} record
 * @property {CallAnswerFrame} frame
 */

/**
 * @typedef {Object} IceEvent
 * @property {string} callId
 * @property {RTCIceCandidateInit} candidate
 * @property {boolean} held waits in the record for a remote description
 * @property {CallRecord} record
 * @property {CallIceFrame} frame
 */

/**
 * @typedef {Object} AcceptedEvent
 * @property {string} callId
 * @property {string} deviceId the answering connection
 * @property {boolean} mine answered by one of this client's sockets
 * @property {boolean} elsewhere this client rang and another device of the user answered
 *   (an `end` with reason `answered_elsewhere` follows)
 * @property {CallRecord | null} record
 * @property {CallAcceptedFrame} frame
 */

/**
 * @typedef {EndedInfo & {callId: string, record: CallRecord | null, frame: CallEndFrame | CallAcceptedFrame}} EndEvent
 */

/** @typedef {{payload: Object, frame: NotificationFrame}} NotificationEvent */

/**
 * @typedef {Object} ChatEvent
 * @property {string | null} conversationId
 * @property {string | undefined} message
 * @property {boolean} mine sent by this user (this tab or another)
 * @property {ChatFrame} frame
 */

/**
 * An error frame from the service (local false), or a local failure (local true):
 * stage 'answer' (the answer could not be set), 'addIceCandidate'.
 * @typedef {Object} ErrorEvent
 * @property {boolean} local
 * @property {string} code the frame's code, or the stage of a local failure
 * @property {string} message
 * @property {string | null} ref
 * @property {string | null} callId
 * @property {ErrorFrame | null} frame
 * @property {string} [stage]
 * @property {unknown} [cause]
 */

/**
 * The events and what their listeners get.
 * @typedef {Object} RingmqEventMap
 * @property {OpenEvent} open a socket got its connection.ack
 * @property {CloseEvent} close a socket closed (not by stop()/close()); `willRetry` tells
 * @property {StatusEvent} status a socket's state changed
 * @property {FrameEvent} frame any frame after de-duplication (own echoes included, `mine`)
 * @property {IncomingEvent} incoming a call rings for this user
 * @property {OfferEvent} offer
 * @property {AnswerEvent} answer
 * @property {IceEvent} ice
 * @property {AcceptedEvent} accepted
 * @property {EndEvent} end a call ended for a reason other than this client's end()/forget()
 * @property {NotificationEvent} notification
 * @property {ChatEvent} chat a chat.message in the room
 * @property {ErrorEvent} error
 * @property {{frame: Frame}} pong
 * @property {{exp: number | null, frame: Frame}} refreshed the service took a new token (auth.refreshed;
 *   exp null: a token without exp)
 */

/**
 * The body of an HTTP error answer (400, 401, 403, 404, 409, 413, 429, 503).
 * @typedef {Object} ApiError
 * @property {string} [error] bad_request, unauthorized, forbidden, not_found, busy, too_large,
 *   rate_limited, unavailable
 * @property {string} [message]
 */

/**
 * @template T
 * @typedef {Object} HttpResult
 * @property {number} status
 * @property {boolean} ok
 * @property {(T & ApiError) | null} data the parsed JSON body; an error status has {error, message}
 * @property {string | null} retryAfter the Retry-After header (429)
 */

/**
 * @typedef {Object} InitiateResponse
 * @property {string} call_id
 * @property {'ringing'} status
 * @property {string} caller_id
 * @property {string} receiver_id
 * @property {CallType} call_type
 * @property {string} conversation_id
 * @property {string} created_at
 * @property {boolean} receiver_online
 */

/**
 * @typedef {HttpResult<InitiateResponse> & {callId: string | null, record: CallRecord | null,
 *   ended: EndedInfo | null}} InitiateResult
 */

/**
 * @typedef {Object} CallRow
 * @property {string} call_id
 * @property {string} caller_id
 * @property {string} receiver_id
 * @property {CallType} call_type
 * @property {string} conversation_id
 * @property {string} status
 * @property {string} created_at
 * @property {string | null} answered_at
 * @property {string | null} ended_at
 * @property {string | null} end_reason
 */

/** @typedef {{calls: CallRow[], next_before: string | null}} HistoryResponse */

/** @typedef {{ice_servers: RTCIceServer[], ttl: number}} IceServersResponse */

/**
 * The claims of a token, read without checking the signature (the service checks it).
 * @typedef {Object} TokenInfo
 * @property {string | null} userId `sub`, else `user_id`
 * @property {string | null} username `name`, `username`, `preferred_username`, else the id
 * @property {number | null} exp seconds since the epoch
 * @property {Object} claims all of them
 */

/* ============================================================= helpers */

/**
 * The delay before reconnect attempt number `attempt` (0 for the first).
 * @param {number} attempt
 * @param {BackoffOptions} [opts]
 * @param {() => number} [random] a number in [0, 1)
 * @returns {number} milliseconds
 */
export function backoffDelay(attempt, opts = {}, random = Math.random) {
  const min = opts.minMs ?? 500;
  const max = opts.maxMs ?? 30000;
  const factor = opts.factor ?? 2;
  const jitter = opts.jitter ?? 0.25;
  const base = Math.min(max, min * Math.pow(factor, Math.max(0, attempt)));
  return Math.round(base * (1 - jitter + 2 * jitter * random()));
}

/**
 * A set that remembers only its last `capacity` keys (a ring buffer + a Set).
 */
export class RecentSet {
  /** @param {number} capacity */
  constructor(capacity) {
    this.capacity = Math.max(1, capacity | 0);
    /** @type {string[]} */
    this._ring = [];
    this._next = 0;
    /** @type {Set<string>} */
    this._set = new Set();
  }

  /** @param {string} key @returns {boolean} */
  has(key) { return this._set.has(key); }

  /**
   * Adds a key, forgetting the oldest one when full.
   * @param {string} key
   * @returns {boolean} false when it was already there
   */
  add(key) {
    if (this._set.has(key)) return false;
    if (this._ring.length < this.capacity) {
      this._ring.push(key);
    } else {
      this._set.delete(this._ring[this._next]);
      this._ring[this._next] = key;
      this._next = (this._next + 1) % this.capacity;
    }
    this._set.add(key);
    return true;
  }

  /** @returns {number} */
  get size() { return this._set.size; }

  /** @returns {void} */
  clear() { this._ring = []; this._next = 0; this._set.clear(); }
}

/**
 * A Map that keeps only its last `capacity` entries (by insertion; setting a
 * key again makes it the newest).
 * @template K, V
 */
export class BoundedMap {
  /** @param {number} capacity */
  constructor(capacity) {
    this.capacity = Math.max(1, capacity | 0);
    /** @type {Map<K, V>} */
    this._map = new Map();
  }

  /** @param {K} key @returns {V | undefined} */
  get(key) { return this._map.get(key); }

  /** @param {K} key @returns {boolean} */
  has(key) { return this._map.has(key); }

  /**
   * @param {K} key
   * @param {V} value
   * @returns {this}
   */
  set(key, value) {
    this._map.delete(key);
    this._map.set(key, value);
    while (this._map.size > this.capacity) this._map.delete(/** @type {K} */ (this._map.keys().next().value));
    return this;
  }

  /** @param {K} key @returns {boolean} */
  delete(key) { return this._map.delete(key); }

  /** @returns {number} */
  get size() { return this._map.size; }

  /** @returns {void} */
  clear() { this._map.clear(); }
}

/**
 * Reads a JWT's claims without checking it.
 * @param {string} token
 * @returns {TokenInfo}
 * @throws {Error} when it is not a JWT
 */
export function parseToken(token) {
  const parts = String(token).split('.');
  if (parts.length !== 3) throw new Error('not a JWT');
  let s = parts[1].replace(/-/g, '+').replace(/_/g, '/');
  while (s.length % 4) s += '=';
  const bin = atob(s);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  const claims = JSON.parse(new TextDecoder().decode(bytes));
  if (!claims || typeof claims !== 'object') throw new Error('no claims');
  const uid = claims.sub != null ? claims.sub : claims.user_id;
  const userId = uid == null ? null : String(uid);
  return {
    userId,
    username: claims.name || claims.username || claims.preferred_username || userId,
    exp: typeof claims.exp === 'number' ? claims.exp : null,
    claims
  };
}

/**
 * An SDP as the peer connection takes it: an object as is, a JSON string
 * parsed, a bare SDP string wrapped.
 * @param {RTCSessionDescriptionInit | string} x
 * @param {RTCSdpType} type used for a bare SDP string
 * @returns {RTCSessionDescriptionInit}
 */
export function normalizeSdp(x, type) {
  if (typeof x === 'string') {
    try { const o = JSON.parse(x); if (o && o.sdp) return o; } catch (e) { /* a bare SDP */ }
    return { type, sdp: x };
  }
  return x;
}

/**
 * An ICE candidate as the peer connection takes it: an object as is, a JSON
 * string parsed, a bare candidate line wrapped (first m-line).
 * @param {RTCIceCandidateInit | string} x
 * @returns {RTCIceCandidateInit}
 */
export function normalizeIce(x) {
  if (typeof x === 'string') {
    try { return JSON.parse(x); } catch (e) { return { candidate: x, sdpMid: '0', sdpMLineIndex: 0 }; }
  }
  return x;
}

/** @param {unknown} e */
function report(e) {
  if (typeof reportError === 'function') reportError(e);
  else console.error(e);
}

const SIGNALING = new Set(['call.offer', 'call.answer', 'call.ice_candidate']);

/* ============================================================== sockets */

/**
 * One WebSocket to the bridge that reopens itself with back-off until stop().
 * Made by {@link RingmqClient}; `ws` is the current WebSocket (null between
 * attempts), `deviceId` the one its last connection.ack gave.
 */
export class RingmqSocket {
  /**
   * @param {RingmqClient} client
   * @param {SocketKind} kind
   * @param {string} path e.g. '/ws/notifications/'
   * @param {string | null} conversationId
   */
  constructor(client, kind, path, conversationId) {
    this.client = client;
    this.kind = kind;
    this.path = path;
    this.conversationId = conversationId;
    this.name = kind === 'chat' ? 'chat ' + conversationId : 'notifications';
    /** @type {WebSocket | null} */
    this.ws = null;
    /** @type {string | null} */
    this.deviceId = null;
    /** acked and not closed since */
    this.open = false;
    /** @type {SocketState} */
    this.state = 'closed';
    /** how many times it got a connection.ack */
    this.connects = 0;
    /** @type {string[]} features of its last connection.ack */
    this.features = [];
    /** reconnect attempts since the last stable connection */
    this.attempt = 0;
    this._wanted = false;
    /** @type {any} */ this._retryTimer = null;
    /** @type {any} */ this._ackTimer = null;
    /** @type {any} */ this._stableTimer = null;
  }

  /** Opens it (and keeps it open) until stop(). @returns {void} */
  start() {
    if (this._wanted) return;
    this._wanted = true;
    this._connect();
  }

  /** Closes it for good (code 1000); no close event. @returns {void} */
  stop() {
    this._wanted = false;
    this._clearTimers();
    const ws = this.ws;
    this.ws = null;
    this.open = false;
    this._setState('closed');
    if (ws) { try { ws.close(1000); } catch (e) { /* already closing */ } }
  }

  /**
   * Sends a frame if the socket is open (acked).
   * @param {Frame} frame
   * @returns {boolean} whether it was sent
   */
  send(frame) {
    if (!this.open || !this.ws) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  _clearTimers() {
    clearTimeout(this._retryTimer); this._retryTimer = null;
    clearTimeout(this._ackTimer); this._ackTimer = null;
    clearTimeout(this._stableTimer); this._stableTimer = null;
  }

  /** @param {SocketState} s */
  _setState(s) {
    if (this.state === s) return;
    this.state = s;
    this.client._emit('status', { socket: this.kind, conversationId: this.conversationId, state: s, target: this });
  }

  _connect() {
    this._retryTimer = null;
    if (!this._wanted) return;
    const c = this.client;
    /** @type {WebSocket} */
    let ws;
    try { ws = new c._WebSocket(c._wsUrl(this.path)); } catch (e) { this._retry(); return; }
    this.ws = ws;
    this._setState('connecting');
    this._ackTimer = setTimeout(() => {
      if (this.ws === ws && !this.open) { try { ws.close(); } catch (e) { /* closing */ } }
    }, c._opts.ackTimeoutMs);
    ws.onmessage = (ev) => {
      if (ws !== this.ws) return;
      let f;
      try { f = JSON.parse(ev.data); } catch (e) { return; }
      if (!f || typeof f !== 'object' || Array.isArray(f)) return;
      if (f.type === 'connection.ack') {
        clearTimeout(this._ackTimer); this._ackTimer = null;
        clearTimeout(this._stableTimer);
        this._stableTimer = setTimeout(() => { this.attempt = 0; }, c._backoff.stableMs ?? 10000);
        this.open = true;
        this.deviceId = f.device_id == null ? null : String(f.device_id);
        this.features = Array.isArray(f.features) ? f.features : [];
        this.connects++;
        this._setState('open');
        c._onAck(this, f);
        return;
      }
      c._onFrame(f, this);
    };
    ws.onclose = (ev) => {
      if (ws !== this.ws) return;
      const wasOpen = this.open;
      this.open = false;
      this.ws = null;
      this._clearTimers();
      const fatal = ev.code === 4401 || ev.code === 4403;
      this._setState(ev.code === 4403 ? 'forbidden' : 'closed');
      if (fatal) this._wanted = false;
      const retryInMs = this._retry();
      c._emit('close', { socket: this.kind, conversationId: this.conversationId, code: ev.code,
        reason: ev.reason || '', wasOpen, willRetry: retryInMs != null, retryInMs, target: this });
    };
    ws.onerror = () => { /* onclose follows */ };
  }

  /** @returns {number | null} the delay, or null when not retrying */
  _retry() {
    if (!this._wanted || this._retryTimer) return null;
    const d = backoffDelay(this.attempt, this.client._backoff);
    this.attempt++;
    this._setState('retrying');
    this._retryTimer = setTimeout(() => this._connect(), d);
    return d;
  }
}

/* =============================================================== client */

/**
 * The ringmq client: sockets, de-duplication, call records, signaling, HTTP.
 *
 * @example
 * const client = new RingmqClient({ token });
 * client.on('incoming', ({ callId, call }) => showRinging(callId, call.caller_username));
 * client.connect();
 */
export class RingmqClient {
  /** @param {RingmqOptions} [options] */
  constructor(options = {}) {
    this._opts = {
      baseUrl: '', wsUrl: '', ackTimeoutMs: 10000, dedupeSize: 1000, endedSize: 200,
      maxCalls: 32, maxHeldIce: 200, outboxSize: 200, ...options
    };
    this._opts.maxCalls = Math.max(1, this._opts.maxCalls | 0);
    /** @type {BackoffOptions} */
    this._backoff = { minMs: 500, maxMs: 30000, factor: 2, jitter: 0.25, stableMs: 10000, ...(options.backoff || {}) };
    /** @type {typeof WebSocket} */
    this._WebSocket = options.WebSocket || globalThis.WebSocket;
    /** @type {typeof fetch} */
    this._fetch = options.fetch || ((input, init) => globalThis.fetch(input, init));
    /** @type {Map<string, Set<Function>>} */
    this._listeners = new Map();
    this._seen = new RecentSet(this._opts.dedupeSize);
    /** device ids of this client's sockets (own echoes) */
    this._devices = new RecentSet(64);
    /** @type {Map<string, CallRecord & {_waiters: Function[], _onIce: any, _draining: Promise<void> | null, ended: EndedInfo | null}>} */
    this._calls = new Map();
    /** @type {BoundedMap<string, EndedInfo>} */
    this._ended = new BoundedMap(this._opts.endedSize);
    /** @type {Frame[]} */
    this._outbox = [];
    /** @type {string | null} */
    this._token = null;
    /** @type {string | null} the user, from the token (then from connection.ack) */
    this.userId = null;
    /** @type {string | null} */
    this.username = null;
    /** @type {string | null} the notification socket's current device_id */
    this.deviceId = null;
    /** @type {string[]} features of the last notification connection.ack */
    this.features = [];
    /** the notification socket */
    this.notifications = new RingmqSocket(this, 'notifications', '/ws/notifications/', null);
    /** @type {RingmqSocket | null} the chat socket, when joinChat() was called */
    this.chat = null;
    if (options.token) this.setToken(options.token);
  }

  /* ---------------------------------------------------------- events */

  /**
   * Listens to an event; see {@link RingmqEventMap}.
   * @template {keyof RingmqEventMap} K
   * @param {K} type
   * @param {(event: RingmqEventMap[K]) => void} listener
   * @returns {() => void} removes the listener
   */
  on(type, listener) {
    let set = this._listeners.get(type);
    if (!set) this._listeners.set(type, set = new Set());
    set.add(listener);
    return () => this.off(type, listener);
  }

  /**
   * Stops listening.
   * @template {keyof RingmqEventMap} K
   * @param {K} type
   * @param {(event: RingmqEventMap[K]) => void} listener
   * @returns {void}
   */
  off(type, listener) {
    const set = this._listeners.get(type);
    if (set) set.delete(listener);
  }

  /**
   * Listens to the next event of a type only.
   * @template {keyof RingmqEventMap} K
   * @param {K} type
   * @param {(event: RingmqEventMap[K]) => void} listener
   * @returns {() => void} removes the listener
   */
  once(type, listener) {
    const off = this.on(type, (ev) => { off(); listener(ev); });
    return off;
  }

  /**
   * @param {string} type
   * @param {any} detail
   */
  _emit(type, detail) {
    const set = this._listeners.get(type);
    if (!set) return;
    for (const fn of Array.from(set)) {
      try {
        const r = fn(detail);
        if (r && typeof r.then === 'function') r.then(undefined, report);
      } catch (e) { report(e); }
    }
  }

  /* --------------------------------------------------------- sockets */

  /**
   * Sets the token for the next connections and HTTP calls. Sockets already
   * open are sent `auth.refresh` with it (answered by a `refreshed` event,
   * or an `error` unauthorized / forbidden) only when their connection.ack
   * listed "auth.refresh" in its features: a service without it would relay
   * the frame, token and all, to a chat room. Call it before the old token's
   * exp: the service closes a socket whose token expired (4401, reason
   * "token expired"), and that stops the socket for good.
   * @param {string} token
   * @returns {void}
   */
  setToken(token) {
    this._token = token;
    try {
      const t = parseToken(token);
      this.userId = t.userId;
      this.username = t.username;
    } catch (e) { /* the service will refuse it: 4401 / 401 */ }
    for (const s of [this.notifications, this.chat]) {
      if (s && s.open && s.features.includes('auth.refresh')) s.send({ type: 'auth.refresh', token });
    }
  }

  /** @returns {string | null} the token in use */
  get token() { return this._token; }

  /**
   * Opens the notification socket (and keeps it open until close()).
   * @returns {void}
   */
  connect() { this.notifications.start(); }

  /**
   * Closes both sockets and drops the queued frames and the live call records
   * (the app closes its own peer connections).
   * @returns {void}
   */
  close() {
    this.leaveChat();
    this.notifications.stop();
    this._outbox.length = 0;
    for (const rec of this._calls.values()) this._release(rec);
    this._calls.clear();
  }

  /**
   * Opens the chat socket of a conversation (one at a time: another one's is closed).
   * @param {string} conversationId
   * @returns {boolean} true when a new socket was made, false when that room's was there already
   */
  joinChat(conversationId) {
    if (this.chat && this.chat.conversationId === conversationId) return false;
    this.leaveChat();
    this.chat = new RingmqSocket(this, 'chat', '/ws/chat/' + encodeURIComponent(conversationId) + '/', conversationId);
    this.chat.start();
    return true;
  }

  /** Closes the chat socket, if any. @returns {void} */
  leaveChat() {
    if (this.chat) this.chat.stop();
    this.chat = null;
  }

  /**
   * Whether a device id is one of this client's sockets (its echo).
   * @param {string | null | undefined} deviceId
   * @returns {boolean}
   */
  isMine(deviceId) { return deviceId != null && this._devices.has(String(deviceId)); }

  /** @param {string} path */
  _wsUrl(path) {
    let base = this._opts.wsUrl;
    if (!base && this._opts.baseUrl) base = this._opts.baseUrl.replace(/^http/, 'ws');
    if (!base) base = (location.protocol === 'https:' ? 'wss:' : 'ws:') + '//' + location.host;
    return base.replace(/\/+$/, '') + path + '?token=' + encodeURIComponent(this._token || '');
  }

  /**
   * @param {RingmqSocket} sock
   * @param {ConnectionAckFrame} f
   */
  _onAck(sock, f) {
    if (sock.deviceId) this._devices.add(sock.deviceId);
    if (f.user_id != null) this.userId = String(f.user_id);
    if (sock.kind === 'notifications') {
      this.deviceId = sock.deviceId;
      this.features = Array.isArray(f.features) ? f.features : [];
      const queued = this._outbox.splice(0);
      for (const q of queued) sock.send(q);
    }
    this._emit('open', { socket: sock.kind, conversationId: sock.conversationId, deviceId: sock.deviceId,
      userId: this.userId, features: Array.isArray(f.features) ? f.features : [], connects: sock.connects,
      frame: f, target: sock });
  }

  /* ------------------------------------------------------------ send */

  /**
   * Sends any frame. 'auto' (the default): a call.* frame goes on the chat
   * socket when it is open for the call's conversation, else on the
   * notification socket, else waits (bounded) for the notification socket;
   * any other frame goes on the chat socket if open, else the notification socket.
   * @param {Frame} frame
   * @param {{via?: 'auto' | SocketKind}} [opts]
   * @returns {'chat' | 'notifications' | 'queued' | false} where it went
   */
  send(frame, opts = {}) {
    const via = opts.via || 'auto';
    const chat = this.chat;
    if (via === 'chat') return chat && chat.send(frame) ? 'chat' : false;
    if (via === 'notifications') return this.notifications.send(frame) ? 'notifications' : false;
    const isCall = typeof frame.type === 'string' && frame.type.startsWith('call.');
    if (isCall) {
      const rec = frame.call_id ? this._calls.get(frame.call_id) : undefined;
      const cid = rec && rec.info.conversation_id;
      if (chat && chat.open && cid != null && chat.conversationId === cid && chat.send(frame)) return 'chat';
    } else if (chat && chat.send(frame)) {
      return 'chat';
    }
    if (this.notifications.send(frame)) return 'notifications';
    if (!isCall) return false;
    this._outbox.push(frame);
    if (this._outbox.length > this._opts.outboxSize) this._outbox.splice(0, this._outbox.length - this._opts.outboxSize);
    return 'queued';
  }

  /**
   * Sends `call.offer`.
   * @param {string} callId
   * @param {RTCSessionDescriptionInit} offer
   * @param {CallType} [callType]
   * @returns {'chat' | 'notifications' | 'queued' | false}
   */
  sendOffer(callId, offer, callType) {
    /** @type {Frame} */
    const f = { type: 'call.offer', call_id: callId, offer: { type: offer.type, sdp: offer.sdp } };
    if (callType) f.call_type = callType;
    return this.send(f);
  }

  /**
   * Sends `call.answer` (and marks the call as answered on this device).
   * @param {string} callId
   * @param {RTCSessionDescriptionInit} answer
   * @returns {'chat' | 'notifications' | 'queued' | false}
   */
  sendAnswer(callId, answer) {
    this.accept(callId);
    return this.send({ type: 'call.answer', call_id: callId, answer: { type: answer.type, sdp: answer.sdp } });
  }

  /**
   * Sends `call.ice_candidate`.
   * @param {string} callId
   * @param {RTCIceCandidateInit | RTCIceCandidate} candidate
   * @returns {'chat' | 'notifications' | 'queued' | false}
   */
  sendIce(callId, candidate) {
    const c = candidate && typeof (/** @type {any} */ (candidate).toJSON) === 'function'
      ? /** @type {RTCIceCandidate} */ (candidate).toJSON() : candidate;
    return this.send({ type: 'call.ice_candidate', call_id: callId, candidate: c });
  }

  /**
   * Ends a call: sends `call.end` and forgets the call (no `end` event: the
   * app knows). The service decides the reason it tells the other side.
   * @param {string} callId
   * @param {EndReason} [reason] 'hangup', 'declined' or 'cancelled'
   * @returns {'chat' | 'notifications' | 'queued' | false}
   */
  end(callId, reason) {
    /** @type {Frame} */
    const f = { type: 'call.end', call_id: callId };
    if (reason) f.reason = reason;
    const where = this.send(f);
    this.forget(callId, reason || 'hangup');
    return where;
  }

  /**
   * Forgets a call without telling the service (it moves to the ended
   * calls, so its late frames are ignored). No `end` event.
   * @param {string} callId
   * @param {EndReason} [reason='hangup']
   * @param {string | null} [endedBy] defaults to this user
   * @returns {void}
   */
  forget(callId, reason = 'hangup', endedBy = this.userId) {
    if (this._ended.has(callId)) return;
    this._markEnded(callId, { reason, endedBy: endedBy == null ? null : String(endedBy), local: true, at: Date.now() });
  }

  /**
   * Sends `{"type": "ping"}` (answered by a `pong` event).
   * @param {SocketKind} [via='notifications']
   * @returns {boolean} whether it was sent
   */
  ping(via = 'notifications') {
    return this.send({ type: 'ping' }, { via }) !== false;
  }

  /**
   * Sends a `chat.message` to the room of the chat socket.
   * @param {string} message
   * @param {Object} [extra] more fields for the frame
   * @returns {boolean} whether it was sent
   */
  sendChat(message, extra = {}) {
    return this.send({ ...extra, type: 'chat.message', message }, { via: 'chat' }) !== false;
  }

  /* ------------------------------------------------ calls and peers */

  /**
   * The live record of a call.
   * @param {string} callId
   * @returns {CallRecord | undefined}
   */
  record(callId) { return this._calls.get(callId); }

  /**
   * What is kept of an ended call (the last `endedSize` ones).
   * @param {string} callId
   * @returns {EndedInfo | undefined}
   */
  endedCall(callId) { return this._ended.get(callId); }

  /**
   * Marks a ringing call as being answered on this device, so a
   * `call.accepted` from this user's other devices does not end it here.
   * Call it when the user presses "accept" (before getUserMedia).
   * @param {string} callId
   * @returns {void}
   */
  accept(callId) {
    const rec = this._calls.get(callId);
    if (rec) rec.answering = true;
  }

  /**
   * Gives the call its peer connection: its ICE candidates are sent from now
   * on, and the client adds held and future remote candidates to it (in
   * order) once it has a remote description, and sets an answer that comes
   * (caller side) as its remote description.
   * @param {string} callId
   * @param {RTCPeerConnection} pc
   * @returns {void}
   * @throws {Error} for a call the client has no live record of
   */
  attach(callId, pc) {
    const rec = this._calls.get(callId);
    if (!rec) throw new Error('no live call ' + callId);
    if (rec.pc === pc) return;
    this._detach(rec);
    rec.pc = pc;
    rec._onIce = (/** @type {RTCPeerConnectionIceEvent} */ ev) => {
      if (!ev.candidate || rec.ended || rec.pc !== pc) return;
      this.sendIce(callId, ev.candidate);
    };
    pc.addEventListener('icecandidate', rec._onIce);
    if (pc.remoteDescription) this._drain(rec);
  }

  /**
   * Caller side: creates the offer on the attached peer connection, sets it
   * as the local description and sends it.
   * @param {string} callId
   * @param {{callType?: CallType, offerOptions?: RTCOfferOptions}} [opts]
   * @returns {Promise<RTCSessionDescriptionInit | null>} null when the call ended meanwhile
   */
  async makeOffer(callId, opts = {}) {
    const rec = this._needPc(callId);
    const pc = /** @type {RTCPeerConnection} */ (rec.pc);
    try {
      const offer = await pc.createOffer(opts.offerOptions);
      await pc.setLocalDescription(offer);
      if (!this._live(rec, pc)) return null;
      this.sendOffer(callId, offer, opts.callType || rec.info.call_type);
      return offer;
    } catch (e) {
      if (!this._live(rec, pc)) return null;
      throw e;
    }
  }

  /**
   * Receiver side: waits for the caller's offer (held or still to come), sets
   * it as the remote description of the attached peer connection, adds the
   * held ICE candidates in order, creates the answer, sets it as the local
   * description and sends it.
   * @param {string} callId
   * @returns {Promise<RTCSessionDescriptionInit | null>} null when the call ended meanwhile
   */
  async makeAnswer(callId) {
    const rec = this._needPc(callId);
    const pc = /** @type {RTCPeerConnection} */ (rec.pc);
    rec.answering = true;
    const offer = rec.offer || await new Promise((resolve) => rec._waiters.push(resolve));
    if (!offer || !this._live(rec, pc) || rec.offerTaken) return null;
    rec.offerTaken = true;
    rec.offer = null;
    try {
      await pc.setRemoteDescription(offer);
      await this._drain(rec);
      const answer = await pc.createAnswer();
      await pc.setLocalDescription(answer);
      if (!this._live(rec, pc)) return null;
      this.sendAnswer(callId, answer);
      return answer;
    } catch (e) {
      if (!this._live(rec, pc)) return null;
      throw e;
    }
  }

  /**
   * Adds the held ICE candidates to the attached peer connection now, if it
   * has a remote description (for apps that set descriptions themselves).
   * @param {string} callId
   * @returns {Promise<void>}
   */
  flush(callId) {
    const rec = this._calls.get(callId);
    return rec ? this._drain(rec) : Promise.resolve();
  }

  /** @param {string} callId */
  _needPc(callId) {
    const rec = this._calls.get(callId);
    if (!rec) throw new Error('no live call ' + callId);
    if (!rec.pc) throw new Error('no peer connection attached to call ' + callId);
    return rec;
  }

  /**
   * @param {any} rec
   * @param {RTCPeerConnection} pc
   */
  _live(rec, pc) { return !rec.ended && rec.pc === pc && this._calls.get(rec.callId) === rec; }

  /**
   * Adds held candidates one after another, in arrival order, while the peer
   * connection has a remote description; one run at a time per call.
   * @param {any} rec
   * @returns {Promise<void>}
   */
  _drain(rec) {
    if (rec._draining) return rec._draining;
    const pc = rec.pc;
    const ready = () => rec.ice.length > 0 && pc && this._live(rec, pc) && pc.remoteDescription;
    if (!ready()) return Promise.resolve();
    rec._draining = (async () => {
      while (ready()) {
        const c = rec.ice.shift();
        try {
          await pc.addIceCandidate(c);
        } catch (e) {
          if (this._live(rec, pc)) {
            this._emit('error', { local: true, code: 'addIceCandidate', stage: 'addIceCandidate', message: String(e),
              ref: null, callId: rec.callId, frame: null, cause: e });
          }
        }
      }
      rec._draining = null;   /* set before the promise settles: no candidate is left behind */
    })();
    return rec._draining;
  }

  /** @param {any} rec */
  _detach(rec) {
    if (rec.pc && rec._onIce) rec.pc.removeEventListener('icecandidate', rec._onIce);
    rec._onIce = null;
  }

  /** @param {any} rec */
  _release(rec) {
    this._detach(rec);
    rec.ice.length = 0;
    rec.offer = null;
    const waiters = rec._waiters.splice(0);
    for (const w of waiters) w(null);
  }

  /**
   * The record of a call, made or completed.
   * @param {string} id
   * @param {'caller' | 'receiver' | null} role
   * @param {CallInfo} info
   */
  _upsert(id, role, info) {
    let rec = this._calls.get(id);
    if (!rec) {
      rec = { callId: id, role: null, state: 'ringing', info: { call_id: id }, offer: null, ice: [], pc: null,
        answering: false, offerTaken: false, since: Date.now(), ended: null,
        _waiters: [], _onIce: null, _draining: null };
      this._calls.set(id, rec);
      while (this._calls.size > this._opts.maxCalls) {
        let victim = null;
        for (const r of this._calls.values()) { if (!r.role && r !== rec) { victim = r; break; } }
        if (!victim) victim = /** @type {any} */ (this._calls.values().next().value);
        this._release(victim);
        this._calls.delete(victim.callId);
      }
    }
    if (role && !rec.role) rec.role = role;
    rec.info = { ...rec.info, ...info, call_id: id };
    return rec;
  }

  /**
   * @param {string} id
   * @param {EndedInfo} info
   */
  _markEnded(id, info) {
    const rec = this._calls.get(id);
    if (rec) {
      rec.ended = info;
      this._release(rec);
      this._calls.delete(id);
    }
    this._ended.set(id, info);
    return rec || null;
  }

  /* ------------------------------------------------------- frames in */

  /**
   * @param {Frame} f
   * @param {RingmqSocket} sock
   */
  _onFrame(f, sock) {
    if (f.msg_id != null && !this._seen.add(String(f.msg_id))) return;
    const mine = this.isMine(f.from_device);
    this._emit('frame', { socket: sock.kind, conversationId: sock.conversationId, frame: f, mine, target: sock });
    switch (f.type) {
    case 'pong':
      this._emit('pong', { frame: f });
      return;
    case 'auth.refreshed':
      this._emit('refreshed', { exp: f.exp, frame: f });
      return;
    case 'error':
      this._emit('error', { local: false, code: String(f.code || 'error'), message: String(f.message || ''),
        ref: f.ref || null, callId: f.call_id || null, frame: f });
      return;
    case 'notification.created':
      this._emit('notification', { payload: f.payload, frame: f });
      return;
    case 'chat.message':
      this._emit('chat', { conversationId: sock.conversationId, message: f.message,
        mine: mine || (f.sender_id != null && String(f.sender_id) === this.userId), frame: f });
      return;
    }
    if (typeof f.type === 'string' && f.type.startsWith('call.') && !mine) this._onCallFrame(f);
  }

  /** @param {Frame} f */
  _onCallFrame(f) {
    const id = typeof f.call_id === 'string' ? f.call_id : null;
    if (!id) return;
    const me = this.userId;
    /* our own signaling from another tab or device (a room copy): not for us */
    if (f.sender_id != null && String(f.sender_id) === me && SIGNALING.has(f.type)) return;
    const ended = this._ended.get(id);
    let rec = this._calls.get(id);
    switch (f.type) {
    case 'call.incoming': {
      if (ended || (rec && rec.role)) return;
      if (String(f.caller_id) === me) return;   /* placed from another tab of ours */
      rec = this._upsert(id, 'receiver', callInfo(f));
      this._emit('incoming', { callId: id, call: rec.info, record: rec, frame: f, viaOffer: false });
      return;
    }
    case 'call.offer': {
      if (ended) return;
      const offer = normalizeSdp(f.offer, 'offer');
      let held = false;
      if (!rec || !rec.role) {
        if (String(f.caller_id) === me) return;   /* a call of ours, placed on another device */
        rec = this._upsert(id, 'receiver', callInfo(f));
        rec.offer = offer;
        held = true;
        this._emit('incoming', { callId: id, call: rec.info, record: rec, frame: f, viaOffer: true });
        if (rec.ended) return;
      } else if (rec.role === 'receiver' && !rec.offerTaken && !rec.offer) {
        rec.offer = offer;
        held = true;
      }
      this._emit('offer', { callId: id, offer, held, record: rec, frame: f });
      if (held && !rec.ended) {
        const waiters = rec._waiters.splice(0);
        for (const w of waiters) w(offer);
      }
      return;
    }
    case 'call.ice_candidate': {
      if (ended || !f.candidate) return;
      const c = normalizeIce(f.candidate);
      if (!rec) rec = this._upsert(id, null, { call_id: id });
      if (rec.ice.length < this._opts.maxHeldIce) rec.ice.push(c);
      const ready = !!(rec.pc && rec.pc.remoteDescription);
      this._emit('ice', { callId: id, candidate: c, held: !ready, record: rec, frame: f });
      if (ready) this._drain(rec);
      return;
    }
    case 'call.answer': {
      if (ended) return;
      this._onAnswer(f, rec || null);
      return;
    }
    case 'call.accepted': {
      if (ended) return;
      const mineDev = this.isMine(f.device_id);
      let elsewhere = false;
      if (rec && rec.role) {
        rec.state = 'accepted';
        elsewhere = rec.role === 'receiver' && !mineDev && !rec.answering;
      }
      this._emit('accepted', { callId: id, deviceId: f.device_id, mine: mineDev, elsewhere, record: rec || null, frame: f });
      if (elsewhere && !this._ended.has(id)) {
        const info = { reason: 'answered_elsewhere', endedBy: me, local: true, at: Date.now() };
        const was = this._markEnded(id, info);
        this._emit('end', { callId: id, ...info, record: was, frame: f });
      }
      return;
    }
    case 'call.end': {
      const info = { reason: f.reason || 'hangup', endedBy: f.ended_by == null ? null : String(f.ended_by),
        local: false, at: Date.now() };
      if (ended) {
        /* we ended it ourselves: keep the reason the service decided */
        if (ended.local && ended.reason !== 'answered_elsewhere') { ended.reason = info.reason; ended.endedBy = info.endedBy; }
        return;
      }
      const was = this._markEnded(id, info);
      this._emit('end', { callId: id, ...info, record: was, frame: f });
      return;
    }
    }
  }

  /**
   * @param {Frame} f
   * @param {any} rec
   */
  async _onAnswer(f, rec) {
    const id = f.call_id;
    const answer = normalizeSdp(f.answer, 'answer');
    const pc = rec && rec.pc;
    if (!rec || rec.role !== 'caller' || !pc || pc.signalingState !== 'have-local-offer') {
      this._emit('answer', { callId: id, answer, applied: false, record: rec, frame: f });
      return;
    }
    try {
      await pc.setRemoteDescription(answer);
    } catch (e) {
      if (this._live(rec, pc)) {
        this._emit('error', { local: true, code: 'answer', stage: 'answer', message: e instanceof Error ? e.message : String(e),
          ref: 'call.answer', callId: id, frame: null, cause: e });
      }
      return;
    }
    if (!this._live(rec, pc)) return;
    await this._drain(rec);
    if (!this._live(rec, pc)) return;
    this._emit('answer', { callId: id, answer, applied: true, record: rec, frame: f });
  }

  /* ------------------------------------------------------------ HTTP */

  /**
   * A request to the bridge with the token. Never throws on an HTTP error
   * status (only when the network fails).
   * @template T
   * @param {string} method
   * @param {string} path e.g. '/calls/'
   * @param {Object} [body] sent as JSON
   * @returns {Promise<HttpResult<T>>}
   */
  async request(method, path, body) {
    const res = await this._fetch(this._opts.baseUrl.replace(/\/+$/, '') + path, {
      method,
      headers: { 'Authorization': 'Bearer ' + this._token, 'Content-Type': 'application/json' },
      body: body ? JSON.stringify(body) : undefined
    });
    let data = null;
    try { data = await res.json(); } catch (e) { /* empty body */ }
    return { status: res.status, ok: res.ok, data, retryAfter: res.headers ? res.headers.get('Retry-After') : null };
  }

  /**
   * Starts a call: `POST /calls/initiate/`. On 201 the client makes the
   * call's record (role caller). `ended` is set when the call ended before
   * the answer came back (a `call.end` overtook it). 409: busy; 429: rate
   * limited (`retryAfter`).
   * @param {{receiverId: string, callType: CallType, conversationId: string}} params
   * @returns {Promise<InitiateResult>}
   */
  async initiate({ receiverId, callType, conversationId }) {
    /** @type {HttpResult<InitiateResponse>} */
    const r = await this.request('POST', '/calls/initiate/',
      { receiver_id: receiverId, call_type: callType, conversation_id: conversationId });
    const d = r.data;
    if (r.status !== 201 || !d || !d.call_id) return { ...r, callId: null, record: null, ended: null };
    const ended = this._ended.get(d.call_id) || null;
    const record = ended ? null : this._upsert(d.call_id, 'caller', {
      call_id: d.call_id, caller_id: d.caller_id != null ? String(d.caller_id) : (this.userId || undefined),
      caller_username: this.username || undefined, receiver_id: d.receiver_id, call_type: d.call_type || callType,
      conversation_id: d.conversation_id || conversationId, created_at: d.created_at
    });
    return { ...r, callId: d.call_id, record, ended };
  }

  /**
   * The user's calls, newest first: `GET /calls/`.
   * @param {{limit?: number, before?: string}} [params] limit 1–100 (default 20); before: a next_before
   * @returns {Promise<HttpResult<HistoryResponse>>}
   */
  history(params = {}) {
    const q = new URLSearchParams();
    if (params.limit != null) q.set('limit', String(params.limit));
    if (params.before != null) q.set('before', params.before);
    const qs = q.toString();
    return this.request('GET', '/calls/' + (qs ? '?' + qs : ''));
  }

  /**
   * One call: `GET /calls/<call_id>/` (404 unless the user is in it).
   * @param {string} callId
   * @returns {Promise<HttpResult<CallRow>>}
   */
  getCall(callId) {
    return this.request('GET', '/calls/' + encodeURIComponent(callId) + '/');
  }

  /**
   * ICE servers for `new RTCPeerConnection({iceServers})`: `GET /calls/ice-servers/`.
   * @returns {Promise<HttpResult<IceServersResponse>>}
   */
  iceServers() {
    return this.request('GET', '/calls/ice-servers/');
  }
}

/**
 * The call fields of a call.incoming or call.offer frame.
 * @param {Frame} f
 * @returns {CallInfo}
 */
function callInfo(f) {
  /** @type {CallInfo} */
  const info = { call_id: f.call_id };
  if (f.caller_id != null) info.caller_id = String(f.caller_id);
  if (f.caller_username != null) info.caller_username = f.caller_username;
  if (f.receiver_id != null) info.receiver_id = String(f.receiver_id);
  if (f.call_type != null) info.call_type = f.call_type;
  if (f.conversation_id != null) info.conversation_id = String(f.conversation_id);
  return info;
}
