// Generates random cases for the Go port of @codemirror/state's change sets
// and writes, per case, the inputs and what the real library computes.
// Usage: node gen.mjs <cases per operation> <seed>  (one JSON object a line)
import { ChangeSet, Text } from '@codemirror/state';
import { rebaseUpdates } from '@codemirror/collab';

const n = Number(process.argv[2] || 1000);
let seed = Number(process.argv[3] || 1) >>> 0;
function rnd() { // mulberry32: reproducible from the seed
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (k) => Math.floor(rnd() * k);
const pieces = ['a', 'b', 'xyz', ' ', '\n', 'é', 'e\u0301', '漢字', 'かな', '😀', '👩‍💻', '🇫🇷', 'ö', '\t', '{}', '\n\n'];
function text(max) {
  let s = '';
  for (let k = int(max + 1); k > 0; k--) s += pieces[int(pieces.length)];
  return s;
}
// A position that does not split a surrogate pair (CodeMirror never does).
function pos(doc, p) {
  if (p > 0 && p < doc.length) {
    const c = doc.charCodeAt(p);
    if (c >= 0xdc00 && c <= 0xdfff) p--;
  }
  return p;
}
function changes(doc) {
  const specs = [];
  for (let k = int(4); k >= 0; k--) {
    let from = pos(doc, int(doc.length + 1)), to = pos(doc, Math.min(doc.length, from + int(6)));
    if (to < from) to = from;
    specs.push({ from, to, insert: rnd() < 0.25 ? '' : text(3) });
  }
  return ChangeSet.of(specs, doc.length);
}
const docOf = (s) => Text.of(s.split('\n'));
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');

for (let i = 0; i < n; i++) {
  const doc = text(12);
  const a = changes(doc);
  out({ op: 'apply', doc, a: a.toJSON(), want: a.apply(docOf(doc)).toString() });

  const afterA = a.apply(docOf(doc)).toString();
  const b = changes(afterA);
  out({ op: 'compose', a: a.toJSON(), b: b.toJSON(), want: a.compose(b).toJSON() });
  out({ op: 'composeDesc', a: a.toJSON(), b: b.toJSON(), want: a.desc.composeDesc(b.desc).toJSON() });

  const c = changes(doc);
  const before = rnd() < 0.5;
  out({ op: 'map', a: a.toJSON(), b: c.toJSON(), before, want: a.map(c, before).toJSON() });
  out({ op: 'mapDesc', a: a.toJSON(), b: c.toJSON(), before, want: a.desc.mapDesc(c.desc, before).toJSON() });

  // rebaseUpdates: `over` is a history of accepted updates starting at doc,
  // some of them (a prefix of `updates`) from the pushing client.
  let cur = doc;
  const over = [], mine = [];
  const accepted = int(3);
  let base = doc;
  for (let k = int(4); k >= 0; k--) {
    const ch = changes(cur);
    over.push({ clientID: 'other' + int(2), changes: ch });
    cur = ch.apply(docOf(cur)).toString();
  }
  // the pushing client's updates start at doc too
  for (let k = 0; k <= accepted; k++) {
    const ch = changes(base);
    mine.push({ clientID: 'me', changes: ch });
    base = ch.apply(docOf(base)).toString();
  }
  const skip = int(Math.min(accepted, mine.length) + 1);
  // interleave: the first `skip` of mine were accepted after over[0]
  const history = over.slice(0, 1);
  let hdoc = over[0].changes.apply(docOf(doc)).toString();
  const acceptedMine = rebaseUpdates(mine.slice(0, skip), history);
  for (const u of acceptedMine) { history.push(u); hdoc = u.changes.apply(docOf(hdoc)).toString(); }
  const enc = (us) => us.map((u) => ({ clientID: u.clientID, changes: u.changes.toJSON() }));
  const rebased = rebaseUpdates(mine, history);
  let final = hdoc;
  for (const u of rebased) final = u.changes.apply(docOf(final)).toString();
  out({ op: 'rebase', doc, updates: enc(mine), over: enc(history), want: enc(rebased), wantDoc: final });
}
