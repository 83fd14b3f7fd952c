/*
 * ringmq demo: what the demo's modules share. The page's state object
 * window.ringmq (for tests and the curious: the call state machine's state,
 * callId, role, pc, endReason, deviceId, the last frames and errors ...),
 * DOM helpers and a few constants. No logic of its own.
 */

export const DEFAULT_CONVERSATION = 'demo';
export const ERRORS_MAX = 100;     /* error frames and local failures kept in R.errors */
export const FRAMES_MAX = 200;     /* frames kept in R.frames */

/* The call states in which a call is going on. */
export const ACTIVE = { calling: 1, incoming: 1, connecting: 1, connected: 1 };

/* Everything a test or a curious person may want to look at. */
export const R = /** @type {any} */ (window).ringmq = {
  state: 'idle',        /* idle | calling | incoming | connecting | connected | ended */
  callId: null,
  role: null,           /* caller | receiver */
  call: null,           /* {call_id, caller_id, caller_username, receiver_id, call_type, conversation_id} */
  endReason: null,      /* hangup | declined | cancelled | missed | busy | answered_elsewhere | failed | error */
  endedBy: null,
  pc: null,
  pcConfig: null,       /* what the last peer connection was made with: {iceServers, iceTransportPolicy} */
  pcState: null,        /* the peer connection's connectionState */
  lastPc: null,         /* the peer connection of the last call, closed */
  answered: false,      /* the receiver pressed accept */
  localStream: null,
  remoteStream: null,
  userId: null,
  username: null,
  token: null,
  tokenExp: null,
  tokenRenewals: 0,    /* tokens the service took by auth.refresh (the renew bar, or Django's refresh) */
  loginVia: null,      /* 'token' (pasted, a link) | 'django' (?django=: SimpleJWT) */
  django: null,        /* the Django project of ?django= */
  djangoRenewals: 0,   /* access tokens got from <django>/api/token/refresh/ */
  djangoConversations: null, /* GET <django>/api/conversations/ after a Django login */
  djangoLogout: null,  /* the status of POST <django>/api/logout/ at the last Log out */
  lateRefusals: 0,     /* invalid_state for a frame that crossed its call's end (not an error) */

  deviceId: null,       /* notification socket's device_id */
  chatDeviceId: null,   /* chat socket's device_id */
  features: [],
  notifSocket: null,    /* the RingmqSocket of the notification socket (.ws is its WebSocket) */
  chatSocket: null,
  notifAck: null,       /* the notification socket's last connection.ack */
  notifConnects: 0,     /* how many times the notification socket was (re)opened */
  states: [],           /* every state this tab went through, in order */
  frames: [],           /* last frames received (bounded) */
  errors: [],           /* error frames and local failures (bounded) */
  client: null,         /* the RingmqClient (ringmq.js) */
  inboundBytes: null,   /* () => Promise<number>, set by demo-calls.js */
  iceStats: null,       /* () => Promise<{local, remote, framesDecoded}>: the selected candidate pair's types */
  api: null             /* {startCall, accept, decline, hangup, route} */
};

/** @param {string} id @returns {any} */
export const $ = (id) => document.getElementById(id);

/** Appends to a list, keeping its last `max` items. */
export function push(list, item, max) {
  list.push(item);
  if (list.length > max) list.splice(0, list.length - max);
}

export function text(el, s) { el.textContent = s == null ? '' : String(s); }

export function toast(msg, kind) {
  const t = document.createElement('div');
  t.className = 'toast ' + (kind || '');
  text(t, msg);
  $('toasts').appendChild(t);
  setTimeout(() => { t.remove(); }, 6000);
}

export function validId(s) { return /^[A-Za-z0-9_-]{1,64}$/.test(s); }
