// The multi-tab editor: one CodeMirror state per open file, kept in step
// with the server through @codemirror/collab over one websocket.
import { EditorState, ChangeSet } from '@codemirror/state';
import { EditorView, keymap } from '@codemirror/view';
import { basicSetup } from 'codemirror';
import { indentWithTab } from '@codemirror/commands';
import { javascript } from '@codemirror/lang-javascript';
import { html } from '@codemirror/lang-html';
import { css } from '@codemirror/lang-css';
import { collab, getSyncedVersion, receiveUpdates, sendableUpdates } from '@codemirror/collab';
import { Connection } from './connection.js';
import { remoteCursors, setRemoteCursors } from './cursors.js';

const app = document.getElementById('editor-app');
const shardId = app.dataset.shard;
const params = new URLSearchParams(location.search);
const token = params.get('token') || '';
const $ = (sel) => app.querySelector(sel);
const statusEl = $('[data-testid=connection-status]');
const fileListEl = $('[data-testid=file-list]');
const presenceEl = $('[data-testid=presence-list]');
const tabsEl = $('[data-testid=tabs]');
const editorsEl = document.getElementById('editors');
const noticeEl = document.getElementById('notice');
const newFileBtn = document.getElementById('new-file');
const nameInput = document.getElementById('display-name');

const palette = ['#e91e63', '#3f51b5', '#009688', '#ff9800', '#9c27b0', '#4caf50', '#f44336', '#03a9f4'];
function cookie(name) {
  const m = document.cookie.match(new RegExp('(?:^|; )' + name + '=([^;]*)'));
  return m ? decodeURIComponent(m[1]) : '';
}
function setCookie(name, value) {
  document.cookie = `${name}=${encodeURIComponent(value)}; path=/; max-age=31536000; SameSite=Lax`;
}
const me = {
  name: cookie('mt_name') || 'Guest ' + Math.floor(100 + Math.random() * 900),
  color: cookie('mt_color') || palette[Math.floor(Math.random() * palette.length)],
};
setCookie('mt_name', me.name);
setCookie('mt_color', me.color);
nameInput.value = me.name;
nameInput.addEventListener('change', () => {
  const v = nameInput.value.trim().slice(0, 40);
  if (!v) return;
  if (v === me.name) return;
  me.name = v;
  setCookie('mt_name', v);
  // Rejoin under the new name: the reconnect keeps unsent edits.
  conn.ws?.close();
});

// Share links for a private shard just created (tokens travel in the URL).
const viewToken = new URLSearchParams(location.hash.slice(1)).get('view');
if (token || viewToken) {
  const share = document.getElementById('share');
  const base = `${location.origin}/s/${shardId}?token=`;
  share.hidden = false;
  share.innerHTML = '';
  const add = (label, t) => {
    const p = document.createElement('div');
    p.textContent = `${label}: ${base}${t}`;
    share.appendChild(p);
  };
  if (token) add('Edit link', token);
  if (viewToken) add('View link', viewToken);
}

let role = 'viewer';
let memberId = null;
let files = [];                  // [{id, name, version}]
const members = new Map();       // member id → member
const tabs = new Map();          // file id → tab
const cursors = new Map();       // member id → {file, ranges}
let activeFile = null;

function notice(text) {
  noticeEl.textContent = text;
  noticeEl.hidden = false;
  clearTimeout(notice.timer);
  notice.timer = setTimeout(() => { noticeEl.hidden = true; }, 4000);
}

function setStatus(state, reason) {
  statusEl.dataset.state = state;
  statusEl.textContent = { online: 'connected', connecting: 'connecting…', reconnecting: 'reconnecting…', offline: 'offline' }[state] || state;
  if (reason) statusEl.title = reason;
}

const wsURL = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
const conn = new Connection({ url: wsURL, onMessage, onOpen: join, onStatus: setStatus });

async function join() {
  try {
    const joined = await conn.request({ type: 'join', shard: shardId, name: me.name, color: me.color, token });
    role = joined.role;
    memberId = joined.member;
    members.clear();
    for (const m of joined.members) members.set(m.member, m);
    setFiles(joined.files);
    renderPresence();
    setStatus('online');
    newFileBtn.disabled = role !== 'editor';
    // Re-subscribe to the files that were open and catch up from the last
    // version seen; unsent local edits stay and are pushed after.
    for (const tab of tabs.values()) await reopen(tab);
    if (!tabs.size && files.length) openFile(files[0].id);
  } catch (err) {
    setStatus('offline', err.message);
    notice(`Cannot join: ${err.message}`);
  }
}

function onMessage(msg) {
  switch (msg.type) {
    case 'updates': return receive(msg);
    case 'doc': return receiveDoc(msg);
    case 'ack': case 'stale': {
      const tab = tabs.get(msg.file);
      if (!tab?.view) return;
      tab.inFlight = false;
      // After stale, push again only once the updates up to that version
      // are here (receive pushes then); ask for them if they are missing.
      if (msg.type === 'stale') {
        tab.staleAt = msg.version;
        const synced = getSyncedVersion(tab.view.state);
        if (synced < msg.version) conn.send({ type: 'pull', file: tab.id, version: synced });
      }
      push(tab);
      return;
    }
    case 'files': setFiles(msg.files, msg.change); return;
    case 'member.joined': case 'member.updated':
      members.set(msg.member.member, msg.member); renderPresence(); return;
    case 'member.left':
      members.delete(msg.member); cursors.delete(msg.member); renderPresence(); renderCursors(); return;
    case 'cursor':
      cursors.set(msg.member, { file: msg.file, ranges: msg.ranges }); renderCursors(msg.file); return;
    case 'room.closed': notice(`Room closed: ${msg.reason}`); return;
    case 'error': notice(msg.message); return;
  }
}

function language(name) {
  if (/\.(m?jsx?|tsx?)$/.test(name)) return javascript({ jsx: true, typescript: /\.tsx?$/.test(name) });
  if (/\.(html?|vue|svelte)$/.test(name)) return html();
  if (/\.css$/.test(name)) return css();
  return [];
}

function makeState(tab, text, version) {
  return EditorState.create({
    doc: text,
    extensions: [
      basicSetup,
      keymap.of([indentWithTab]),
      language(tab.name),
      collab({ startVersion: version, clientID: tab.clientID }),
      remoteCursors,
      EditorState.readOnly.of(role !== 'editor'),
      EditorView.updateListener.of((u) => {
        if (u.docChanged) push(tab);
        if (u.selectionSet || u.docChanged) sendCursor(tab);
      }),
    ],
  });
}

async function openFile(fid) {
  if (tabs.has(fid)) return activate(fid);
  const info = files.find((f) => f.id === fid);
  if (!info) return;
  const tab = { id: fid, name: info.name, clientID: Math.random().toString(36).slice(2, 10), inFlight: false, view: null };
  tabs.set(fid, tab);
  try {
    const doc = await conn.request({ type: 'open', file: fid });
    const holder = document.createElement('div');
    holder.className = 'cm-holder';
    tab.view = new EditorView({ state: makeState(tab, doc.text, doc.version), parent: editorsEl });
    tab.view.dom.dataset.file = fid;
    tab.view.dom.dataset.testid = 'editor';
    editorsEl.querySelector('.empty-hint')?.remove();
    renderTabs();
    activate(fid);
  } catch (err) {
    tabs.delete(fid);
    notice(`Cannot open ${info.name}: ${err.message}`);
  }
}

async function reopen(tab) {
  tab.inFlight = false;
  tab.reopening = true;
  try {
    await conn.request({ type: 'open', file: tab.id });
    tab.reopening = false;
    await conn.request({ type: 'pull', file: tab.id, version: getSyncedVersion(tab.view.state) });
    push(tab);
  } catch (err) {
    tab.reopening = false;
    if (err.code === 'not_found') closeTab(tab.id, 'was deleted');
  }
}

function activate(fid) {
  activeFile = fid;
  for (const tab of tabs.values()) tab.view?.dom.classList.toggle('hidden', tab.id !== fid);
  renderTabs();
  renderFiles();
  const tab = tabs.get(fid);
  if (tab?.view) { tab.view.focus(); sendCursor(tab); }
}

function closeTab(fid, why) {
  const tab = tabs.get(fid);
  if (!tab) return;
  tab.view?.destroy();
  tabs.delete(fid);
  conn.send({ type: 'close', file: fid });
  if (why) notice(`${tab.name} ${why}`);
  if (activeFile === fid) {
    const next = tabs.keys().next();
    if (!next.done) activate(next.value); else { activeFile = null; renderTabs(); renderFiles(); }
  } else renderTabs();
}

function push(tab) {
  if (!tab.view || tab.inFlight || tab.reopening || !conn.open || role !== 'editor') return;
  if (tab.staleAt && getSyncedVersion(tab.view.state) < tab.staleAt) return;
  const updates = sendableUpdates(tab.view.state);
  if (!updates.length) return;
  tab.inFlight = true;
  conn.send({
    type: 'push', file: tab.id, version: getSyncedVersion(tab.view.state),
    updates: updates.map((u) => ({ clientID: u.clientID, changes: u.changes.toJSON() })),
  });
}

function receive(msg) {
  const tab = tabs.get(msg.file);
  if (!tab?.view) return;
  const synced = getSyncedVersion(tab.view.state);
  const end = msg.version + msg.updates.length;
  if (end <= synced) return;
  if (msg.version > synced) {
    // A gap (e.g. after a reconnect): ask for what is missing.
    conn.send({ type: 'pull', file: msg.file, version: synced });
    return;
  }
  const updates = msg.updates.slice(synced - msg.version).map((u) => ({ clientID: u.clientID, changes: ChangeSet.fromJSON(u.changes) }));
  // One update at a time, never a batch: mapping over a composition can
  // order same-place insertions differently from mapping over its parts,
  // and the server transforms stale pushes over one update at a time.
  for (const u of updates) tab.view.dispatch(receiveUpdates(tab.view.state, [u]));
  push(tab);
  renderCursors(msg.file);
}

function receiveDoc(msg) {
  const tab = tabs.get(msg.file);
  if (!tab?.view || tab.reopening) return;
  const synced = getSyncedVersion(tab.view.state);
  if (msg.version <= synced) return;
  // The server no longer holds the history since our version: start over.
  if (sendableUpdates(tab.view.state).length) notice(`${tab.name}: reloaded from the server; unsent edits were lost`);
  tab.view.setState(makeState(tab, msg.text, msg.version));
}

let cursorTimer = null;
function sendCursor(tab) {
  if (cursorTimer) return;
  cursorTimer = setTimeout(() => {
    cursorTimer = null;
    if (!tab.view || !conn.open || tab.id !== activeFile) return;
    const ranges = tab.view.state.selection.ranges.map((r) => ({ anchor: r.anchor, head: r.head }));
    conn.send({ type: 'cursor', file: tab.id, version: getSyncedVersion(tab.view.state), ranges });
  }, 60);
}

function renderCursors(fid) {
  for (const tab of tabs.values()) {
    if (!tab.view || (fid && tab.id !== fid)) continue;
    const list = [];
    for (const [mid, c] of cursors) {
      const m = members.get(mid);
      if (m && c.file === tab.id && mid !== memberId) list.push({ name: m.name, color: m.color, ranges: c.ranges });
    }
    tab.view.dispatch({ effects: setRemoteCursors.of(list) });
  }
}

function setFiles(list, change) {
  files = list;
  for (const tab of [...tabs.values()]) {
    const f = files.find((x) => x.id === tab.id);
    if (!f) closeTab(tab.id, 'was deleted');
    else tab.name = f.name;
  }
  if (change && change.by !== memberId) {
    const who = members.get(change.by)?.name || 'someone';
    notice(`${who}: ${change.op} ${change.name}`);
  }
  renderFiles();
  renderTabs();
  renderPresence();
}

function renderFiles() {
  fileListEl.innerHTML = '';
  for (const f of files) {
    const li = document.createElement('li');
    li.className = 'file-item' + (f.id === activeFile ? ' active' : '');
    li.dataset.testid = 'file-item';
    li.dataset.file = f.id;
    const name = document.createElement('span');
    name.className = 'name';
    name.textContent = f.name;
    li.appendChild(name);
    const dots = document.createElement('span');
    dots.className = 'dots';
    for (const m of members.values()) {
      if (m.file === f.id && m.member !== memberId) {
        const d = document.createElement('span');
        d.className = 'dot'; d.style.background = m.color; d.title = m.name;
        dots.appendChild(d);
      }
    }
    li.appendChild(dots);
    if (role === 'editor') {
      const actions = document.createElement('span');
      actions.className = 'actions';
      const ren = document.createElement('button');
      ren.className = 'small'; ren.textContent = '✎'; ren.title = 'Rename'; ren.dataset.testid = 'rename-file';
      ren.onclick = (e) => { e.stopPropagation(); renameFile(f); };
      const del = document.createElement('button');
      del.className = 'small'; del.textContent = '✕'; del.title = 'Delete'; del.dataset.testid = 'delete-file';
      del.onclick = (e) => { e.stopPropagation(); deleteFile(f); };
      actions.append(ren, del);
      li.appendChild(actions);
    }
    li.onclick = () => openFile(f.id);
    fileListEl.appendChild(li);
  }
}

function renderTabs() {
  tabsEl.innerHTML = '';
  for (const tab of tabs.values()) {
    const el = document.createElement('div');
    el.className = 'tab' + (tab.id === activeFile ? ' active' : '');
    el.dataset.testid = 'tab';
    el.dataset.file = tab.id;
    el.textContent = tab.name;
    const x = document.createElement('button');
    x.className = 'x'; x.textContent = '×'; x.title = 'Close';
    x.onclick = (e) => { e.stopPropagation(); closeTab(tab.id); };
    el.appendChild(x);
    el.onclick = () => activate(tab.id);
    tabsEl.appendChild(el);
  }
}

function renderPresence() {
  presenceEl.innerHTML = '';
  const list = [...members.values()].sort((a, b) => (a.member === memberId ? -1 : b.member === memberId ? 1 : a.name.localeCompare(b.name)));
  for (const m of list) {
    const li = document.createElement('li');
    li.dataset.testid = 'presence-item';
    li.dataset.member = m.member;
    const dot = document.createElement('span');
    dot.className = 'dot'; dot.style.background = m.color;
    const name = document.createElement('span');
    name.textContent = m.name + (m.member === memberId ? ' (you)' : '');
    const where = document.createElement('span');
    where.className = 'where';
    where.textContent = files.find((f) => f.id === m.file)?.name || '';
    li.append(dot, name, where);
    presenceEl.appendChild(li);
  }
  renderFiles();
}

async function createFile() {
  const name = prompt('New file name (e.g. src/util.js)');
  if (!name) return;
  try {
    const ok = await conn.request({ type: 'file.create', name, text: '' });
    openFile(ok.file);
  } catch (err) { notice(err.message); }
}

async function renameFile(f) {
  const name = prompt(`Rename ${f.name} to`, f.name);
  if (!name || name === f.name) return;
  try { await conn.request({ type: 'file.rename', file: f.id, name }); } catch (err) { notice(err.message); }
}

async function deleteFile(f) {
  if (!confirm(`Delete ${f.name}?`)) return;
  try { await conn.request({ type: 'file.delete', file: f.id }); } catch (err) { notice(err.message); }
}

newFileBtn.addEventListener('click', createFile);
// The server-rendered list works before the socket joins.
for (const li of fileListEl.querySelectorAll('[data-file]')) li.onclick = () => openFile(li.dataset.file);
window.multitab = { tabs, conn, files: () => files, members };
