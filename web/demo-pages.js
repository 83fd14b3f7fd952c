/*
 * ringmq demo: login (the token in sessionStorage), the hash router and its
 * pages (#/feed, #/profile, #/marketplace, #/chat/<conversation_id>), the
 * socket status dots, the chat log, notifications and the call history.
 * The notification socket is opened once at login and kept across route
 * changes; the chat route opens its conversation's chat socket.
 *
 * Opened with ?django=<url> (the link scripts/run --django prints), the page
 * logs in at that Django project instead: a username/password form POSTs to
 * <url>/api/token/ (SimpleJWT), the access token logs in, the refresh token
 * stays in memory only (a reload asks again) and renews the access token at
 * <url>/api/token/refresh/ before its end; "Log out" also POSTs
 * <url>/api/logout/ (ringmq then closes the user's other sockets, 4401
 * revoked). The project allows this page's origin with CORS
 * (examples/django/exampleproject/cors.py).
 */
import { parseToken } from './ringmq.js';
import { $, ACTIVE, DEFAULT_CONVERSATION, R, text, toast, validId } from './demo-shared.js';

export const TOKEN_KEY = 'ringmq.token';
const CHAT_MAX = 200;           /* chat lines kept on screen */
const PAGES = ['feed', 'profile', 'marketplace', 'chat'];
const PEERS = { alice: 'bob', bob: 'alice' };
const RENEW_AHEAD_MS = 120000;  /* ask for a new token this long before exp (at most half its life) */

/** @type {import('./ringmq.js').RingmqClient} */
let client = null;
let hangup = () => {};

/**
 * Wires the pages to a client.
 * @param {import('./ringmq.js').RingmqClient} c
 * @param {{hangup?: () => void}} [hooks] hangup: ends the call going on (at logout)
 */
export function initPages(c, hooks = {}) {
  client = c;
  if (hooks.hangup) hangup = hooks.hangup;

  client.on('status', (d) => {
    const el = d.socket === 'chat' ? $('chat-status') : $('notif-status');
    if (d.socket === 'chat' && d.target !== client.chat) return;   /* a chat socket we left */
    el.dataset.state = d.state;
    el.title = d.target.name + ': ' + d.state;
  });
  client.on('open', (d) => {
    if (d.socket === 'notifications') {
      R.deviceId = d.deviceId;
      R.features = d.features;
      R.notifConnects++;
      R.notifSocket = d.target;
      R.notifAck = d.frame;
      text($('profile-device'), d.deviceId);
    } else if (d.target === client.chat) {
      R.chatDeviceId = d.deviceId;
    }
  });
  client.on('close', (d) => {
    if (d.code === 4401) logout('The server refused the token (4401). Log in again.');
    else if (d.code === 4403) toast('Not a member of this conversation (4403).', 'bad');
  });
  client.on('refreshed', (d) => { renewed(d.exp); });
  client.on('error', (d) => {
    if (d.ref === 'auth.refresh') text($('renew-error'), 'Refused: ' + d.code + ' (' + d.message + ')');
  });
  client.on('chat', (d) => { showChat(d.frame, d.mine); });
  client.on('notification', (d) => { showNotification(d.frame); });

  $('login-btn').onclick = () => { login($('token-input').value.trim(), true); };
  $('renew-btn').onclick = () => { renew($('renew-token').value.trim()); };
  $('logout').onclick = () => { logout('', true); };
  if (DJ) {
    R.django = DJ;
    text($('django-url'), DJ);
    $('django-login').hidden = false;
    $('token-login').hidden = true;
    $('django-login').onsubmit = (ev) => {
      ev.preventDefault();
      djangoLogin($('django-username').value.trim(), $('django-password').value);
    };
  }
  $('refresh-calls').onclick = loadHistory;
  $('chat-form').onsubmit = (ev) => {
    ev.preventDefault();
    const msg = $('chat-input').value.trim();
    if (!msg || !client.chat) return;
    if (client.sendChat(msg)) $('chat-input').value = '';
    else toast('Chat is not connected yet.', 'bad');
  };
  window.addEventListener('hashchange', route);
}

/* ---------- login ---------- */

/* A ?token= in the URL (a login link), taken out of the URL. */
export function tokenFromUrl() {
  const q = new URLSearchParams(location.search);
  const t = q.get('token');
  if (!t) return null;
  q.delete('token');
  const rest = q.toString();
  history.replaceState(null, '', location.pathname + (rest ? '?' + rest : '') + location.hash);
  return t.trim();
}

export function savedToken() { return sessionStorage.getItem(TOKEN_KEY); }

/**
 * @param {string} token
 * @param {boolean} remember keep it in sessionStorage (a reload logs in again)
 * @param {string} [via] 'token' (pasted, a link) or 'django' (djangoLogin)
 */
export function login(token, remember, via = 'token') {
  let c;
  try { c = parseToken(token); } catch (e) {
    text($('login-error'), 'That is not a token: ' + e.message);
    return false;
  }
  if (c.userId == null) { text($('login-error'), 'The token names no user (sub / user_id).'); return false; }
  if (c.exp && c.exp * 1000 < Date.now()) { text($('login-error'), 'That token has expired.'); return false; }
  R.token = token;
  R.loginVia = via;
  R.userId = c.userId;
  R.username = c.username;
  R.tokenExp = c.exp ? new Date(c.exp * 1000).toISOString() : 'never';
  if (remember) sessionStorage.setItem(TOKEN_KEY, token);
  text($('login-error'), '');
  text($('whoami'), R.username + ' (' + R.userId + ')');
  if (!$('receiver-id').value) $('receiver-id').value = PEERS[R.userId] || '';
  $('nav').hidden = $('callbar').hidden = $('me').hidden = false;
  $('login').hidden = true;
  client.setToken(token);
  R.notifSocket = client.notifications;
  client.connect();
  route();
  scheduleRenew(c.exp);
  return true;
}

/* ---------- a token's end: the page asks for a new one before it ---------- */

let renewTimer = null;

/* RENEW_AHEAD_MS (at most half the token's life) before exp, renews the
 * token through Django when logged in there (djangoRenew), else shows the
 * renew bar: the service closes every socket whose token expired (4401). */
function scheduleRenew(exp) {
  clearTimeout(renewTimer);
  $('renew').hidden = true;
  if (!exp) return;
  const left = exp * 1000 - Date.now();
  const ahead = Math.min(RENEW_AHEAD_MS, left / 2);
  renewTimer = setTimeout(() => {
    if (djRefresh) djangoRenew(exp);
    else showRenewBar(exp, '');
  }, Math.max(0, left - ahead));
}

function showRenewBar(exp, error) {
  text($('renew-when'), 'at ' + new Date(exp * 1000).toLocaleTimeString());
  text($('renew-user'), R.userId);
  text($('renew-error'), error);
  $('renew').hidden = false;
}

/* A pasted token: of the same user, not expired; sent to the open sockets
 * (auth.refresh) and used for the next connections and HTTP calls. */
function renew(token) {
  let c;
  try { c = parseToken(token); } catch (e) { text($('renew-error'), 'Not a token: ' + e.message); return; }
  if (String(c.userId) !== String(R.userId)) { text($('renew-error'), 'That token is of another user.'); return; }
  if (c.exp && c.exp * 1000 < Date.now()) { text($('renew-error'), 'That token has expired.'); return; }
  R.token = token;
  if (sessionStorage.getItem(TOKEN_KEY)) sessionStorage.setItem(TOKEN_KEY, token);
  client.setToken(token);
  $('renew-token').value = '';
  if (!client.notifications || !client.notifications.open) renewed(c.exp || null);
}

/* The service took the new token (auth.refreshed): the socket lives until exp. */
function renewed(exp) {
  R.tokenExp = exp ? new Date(exp * 1000).toISOString() : 'never';
  R.tokenRenewals = (R.tokenRenewals || 0) + 1;
  text($('profile-exp'), R.tokenExp);
  scheduleRenew(exp);
}

/**
 * @param {string} why shown on the login page
 * @param {boolean} [byUser] the Log out button: a Django login also logs out
 *   at Django (not after a 4401: that session ended already)
 */
export function logout(why, byUser = false) {
  const token = R.token;
  const atDjango = byUser && R.loginVia === 'django' && DJ && token;
  djRefresh = null;
  R.loginVia = null;
  sessionStorage.removeItem(TOKEN_KEY);
  clearTimeout(renewTimer);
  $('renew').hidden = true;
  if (ACTIVE[R.state]) hangup();
  client.close();
  R.chatSocket = null;
  R.chatDeviceId = null;
  R.token = R.userId = null;
  $('nav').hidden = $('callbar').hidden = $('me').hidden = true;
  hidePages();
  $('login').hidden = false;
  document.body.dataset.page = 'login';
  text($('login-error'), why || '');
  if (atDjango) {   /* after client.close(): the revocation finds no socket of ours to close */
    djFetch('POST', '/api/logout/', {}, token).then((r) => {
      R.djangoLogout = r.status;
      if (r.status !== 204) toast('Django answered ' + r.status + ' to the logout.', 'bad');
    }, (e) => {
      R.djangoLogout = 'unreachable';
      toast('Could not log out at Django: ' + e.message, 'bad');
    });
  }
}

/* ---------- login through a Django project (?django=<url>) ---------- */

/* The Django project of ?django= (kept in the URL: a reload shows its form
 * again), or null. Only an http(s) URL: where the password goes is shown
 * above the form. */
const DJ = djangoFromUrl();
/* A Django login's refresh token: in memory only, never stored. */
let djRefresh = null;

function djangoFromUrl() {
  const v = new URLSearchParams(location.search).get('django');
  if (!v) return null;
  try {
    const u = new URL(v);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return null;
    return u.origin + u.pathname.replace(/\/+$/, '');
  } catch (e) { return null; }
}

/* A JSON request to the Django project (cross-origin: its CORS middleware
 * allows this page's origin); no cookies. Rejects when it is unreachable or
 * refuses the origin (the browser tells the two apart for no one). */
async function djFetch(method, path, body, token) {
  const headers = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = 'Bearer ' + token;
  const res = await fetch(DJ + path, { method, headers, credentials: 'omit',
    body: body !== undefined ? JSON.stringify(body) : undefined });
  let data = null;
  try { data = await res.json(); } catch (e) { /* 204, or not JSON */ }
  return { status: res.status, data };
}

async function djangoLogin(username, password) {
  const btn = $('django-login-btn');
  text($('login-error'), '');
  if (!username || !password) { text($('login-error'), 'Username and password, please.'); return; }
  btn.disabled = true;
  let r;
  try {
    r = await djFetch('POST', '/api/token/', { username, password });
  } catch (e) {
    text($('login-error'), 'Cannot reach Django at ' + DJ + ' (not running, or it does not allow this ' +
      'origin: DJANGO_CORS_ORIGINS).');
    return;
  } finally { btn.disabled = false; }
  if (r.status !== 200 || !r.data || !r.data.access) {
    text($('login-error'), r.status === 401 ? 'Wrong username or password.'
      : 'Django answered ' + r.status + (r.data && r.data.detail ? ': ' + r.data.detail : '') + '.');
    return;
  }
  $('django-password').value = '';
  djRefresh = r.data.refresh || null;
  if (!login(r.data.access, false, 'django')) { djRefresh = null; return; }
  loadConversations(r.data.access);
}

/* The user's conversations at Django (GET /api/conversations/): the call bar
 * gets the first one's id (Django's pk is ringmq's conversation id) and its
 * other participant as the receiver. */
async function loadConversations(token) {
  let r;
  try { r = await djFetch('GET', '/api/conversations/', undefined, token); } catch (e) { return; }
  const convs = (r.status === 200 && r.data && r.data.conversations) || [];
  R.djangoConversations = convs;
  if (!convs.length || R.token !== token) return;
  const c = convs[0];
  $('conversation-id').value = c.id;
  $('nav-chat').setAttribute('href', '#/chat/' + c.id);
  const peer = (c.participants || []).find((p) => String(p) !== String(R.userId));
  if (peer != null && !$('receiver-id').value) $('receiver-id').value = peer;
}

/* The access token's end is near: a new one from the refresh token, sent to
 * the open sockets (renew). Tried again while Django is unreachable; when it
 * refuses the refresh token (expired: SimpleJWT's REFRESH_TOKEN_LIFETIME),
 * the renew bar says so. */
async function djangoRenew(exp) {
  const who = R.userId;
  let r = null;
  try { r = await djFetch('POST', '/api/token/refresh/', { refresh: djRefresh }); } catch (e) { /* below */ }
  if (R.userId !== who || !djRefresh) return;   /* logged out meanwhile */
  if (r && r.status === 200 && r.data && r.data.access) {
    if (r.data.refresh) djRefresh = r.data.refresh;   /* ROTATE_REFRESH_TOKENS */
    R.djangoRenewals = (R.djangoRenewals || 0) + 1;
    renew(r.data.access);
    return;
  }
  if ((r == null || r.status >= 500) && exp * 1000 - Date.now() > 8000) {
    clearTimeout(renewTimer);
    renewTimer = setTimeout(() => { djangoRenew(exp); }, 3000);
    return;
  }
  showRenewBar(exp, r == null ? 'Django is unreachable: log in again, or paste a token.'
    : 'Django refused the refresh (' + r.status + '): log in again, or paste a token.');
}

/* ---------- pages ---------- */

function hidePages() {
  PAGES.forEach((p) => { $('page-' + p).hidden = true; });
}

export function route() {
  if (!R.token) return;
  const h = location.hash.replace(/^#\/?/, '').split('/');
  let page = h[0] || 'feed';
  if (PAGES.indexOf(page) < 0) page = 'feed';
  hidePages();
  $('page-' + page).hidden = false;
  document.body.dataset.page = page;
  PAGES.forEach((p) => { $('nav-' + p).classList.toggle('active', p === page); });
  if (page === 'chat') {
    let cid = decodeURIComponent(h[1] || '') || $('conversation-id').value.trim() || DEFAULT_CONVERSATION;
    if (!validId(cid)) cid = DEFAULT_CONVERSATION;
    $('conversation-id').value = cid;
    $('nav-chat').setAttribute('href', '#/chat/' + cid);
    text($('chat-title'), cid);
    if (client.joinChat(cid)) {   /* a new room: a new log */
      text($('chat-log'), '');
      R.chatDeviceId = null;
    }
    R.chatSocket = client.chat;
  } else {
    client.leaveChat();
    R.chatSocket = null;
    R.chatDeviceId = null;
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

let historyTimer = null;

/* A call just ended: refresh the history if it is on screen. */
export function refreshHistorySoon() {
  if (document.body.dataset.page !== 'profile' || historyTimer) return;
  historyTimer = setTimeout(() => { historyTimer = null; loadHistory(); }, 500);
}

async function loadHistory() {
  const list = $('call-history');
  let r;
  try { r = await client.history({ limit: 10 }); } catch (e) { text(list, ''); return; }
  text(list, '');
  const calls = (r.data && r.data.calls) || [];
  if (!calls.length) {
    const li0 = document.createElement('li');
    li0.className = 'muted';
    text(li0, r.status === 200 ? 'no calls yet' : 'history unavailable (' + r.status + ')');
    list.appendChild(li0);
    return;
  }
  calls.forEach((c) => {
    const li = document.createElement('li');
    const out = c.caller_id === R.userId;
    text(li, (out ? '→ ' + c.receiver_id : '← ' + c.caller_id) + ' · ' + c.call_type + ' · ' +
      (c.end_reason || c.status) + ' · ' + (c.created_at || '').replace('T', ' ').replace(/\.\d+Z$/, 'Z'));
    list.appendChild(li);
  });
}

/* ---------- chat and notifications ---------- */

function showChat(f, mine) {
  const li = document.createElement('li');
  if (mine) li.className = 'mine';
  const who = document.createElement('b');
  text(who, (f.sender_username || f.sender_id || '?') + ': ');
  li.appendChild(who);
  li.appendChild(document.createTextNode(f.message != null ? f.message : (f.text != null ? f.text : f.content)));
  const log = $('chat-log');
  log.appendChild(li);
  while (log.children.length > CHAT_MAX) log.removeChild(log.firstChild);
  log.scrollTop = log.scrollHeight;
}

function showNotification(f) {
  const list = $('notifications');
  if (list.querySelector('.muted')) text(list, '');
  const li = document.createElement('li');
  const p = f.payload;
  text(li, (p && (p.title || p.text || p.message)) || JSON.stringify(p));
  list.insertBefore(li, list.firstChild);
  toast('Notification: ' + li.textContent);
}
