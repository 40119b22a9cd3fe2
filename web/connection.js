// One websocket to any node, with reconnect and backoff. Replies are matched
// to requests by ref; everything else goes to onMessage.
export class Connection {
  constructor({ url, onMessage, onOpen, onStatus }) {
    this.url = url;
    this.onMessage = onMessage;
    this.onOpen = onOpen;
    this.onStatus = onStatus;
    this.nextRef = 1;
    this.pending = new Map();
    this.attempt = 0;
    this.closedByUs = false;
    this.connect();
  }

  connect() {
    this.onStatus(this.attempt ? 'reconnecting' : 'connecting');
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this.onOpen();
    };
    ws.onmessage = (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch { return; }
      if (msg.ref !== undefined && this.pending.has(msg.ref)) {
        const { resolve, reject } = this.pending.get(msg.ref);
        this.pending.delete(msg.ref);
        if (msg.type === 'error') reject(Object.assign(new Error(msg.message), { code: msg.code }));
        else resolve(msg);
        // Replies that carry data (updates, doc) are also state changes.
        if (msg.type === 'updates' || msg.type === 'doc') this.onMessage(msg);
        return;
      }
      this.onMessage(msg);
    };
    ws.onclose = (ev) => {
      for (const { reject } of this.pending.values()) reject(new Error('connection lost'));
      this.pending.clear();
      if (this.closedByUs) return;
      this.onStatus('reconnecting', ev.reason);
      // Exponential backoff with jitter, at most 8 s.
      const delay = Math.min(8000, 250 * 2 ** this.attempt) * (0.75 + Math.random() / 2);
      this.attempt++;
      setTimeout(() => this.connect(), delay);
    };
  }

  get open() { return this.ws && this.ws.readyState === WebSocket.OPEN; }

  send(msg) {
    if (this.open) this.ws.send(JSON.stringify(msg));
  }

  request(msg) {
    return new Promise((resolve, reject) => {
      if (!this.open) { reject(new Error('not connected')); return; }
      const ref = this.nextRef++;
      this.pending.set(ref, { resolve, reject });
      this.ws.send(JSON.stringify({ ...msg, ref }));
    });
  }
}
