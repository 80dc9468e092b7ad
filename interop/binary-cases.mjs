// Generates WABinary cases with Baileys' own codec, for tests/binary_interop.rs.
//
//   node binary-cases.mjs <seed> <count>
//
// One JSON record per line. Node JSON is embedded as a string so the reader keeps attribute
// order: {"kind", "node"?: str, "frame": hex, "encode_error"?: str,
//         "decoded"?: str, "decode_error"?: str, "consumed"?: n, "body_len"?: n}
// kind "node": a random node Baileys encoded; "zlib": a compressed frame of such a node;
// "malformed": a damaged frame and what Baileys' decoder made of it.
import { deflateSync } from 'node:zlib';
import { encodeBinaryNode, decodeBinaryNode } from 'baileys/lib/WABinary/index.js';
import { decodeDecompressedBinaryNode } from 'baileys/lib/WABinary/decode.js';
import * as constants from 'baileys/lib/WABinary/constants.js';

const { SINGLE_BYTE_TOKENS, DOUBLE_BYTE_TOKENS } = constants;
const seed = Number(process.argv[2] ?? 1);
const count = Number(process.argv[3] ?? 5000);

// mulberry32: small, seeded, reproducible.
let state = seed >>> 0;
const rand = () => {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));
const pick = (xs) => xs[int(0, xs.length - 1)];
const chars = (alphabet, n) => Array.from({ length: n }, () => pick(alphabet)).join('');
const digits = (n) => chars('0123456789', n);

// Keys JS objects would reorder (integer-like) or treat specially are left out: with them
// Baileys' decoded attrs would not be in wire order.
const jsSpecial = new Set(Object.getOwnPropertyNames(Object.prototype));
const okKey = (k) => k !== '' && !/^(0|[1-9][0-9]*)$/.test(k) && !jsSpecial.has(k);
const singleTokens = SINGLE_BYTE_TOKENS.slice(1);
const doubleTokens = DOUBLE_BYTE_TOKENS.flat();
const realisticTags = ['iq', 'message', 'receipt', 'ack', 'notification', 'enc', 'participants', 'to',
  'presence', 'chatstate', 'success', 'failure', 'stream:error', 'usync', 'list', 'user', 'devices',
  'device-list', 'device', 'key', 'skey', 'registration', 'identity', 'value', 'signature', 'pair-device',
  'ref', 'pair-success', 'device-identity', 'ib', 'query', 'count', 'retry', 'media_conn', 'ping'];

const jidKinds = (user) => [
    () => `${user}@s.whatsapp.net`,
    () => `${user}:${int(1, 99)}@s.whatsapp.net`,
    () => `${user}:0@s.whatsapp.net`,
    () => `${user}_${int(0, 3)}:${int(0, 99)}@s.whatsapp.net`,
    () => `${user}_1@s.whatsapp.net`,
    () => `${digits(15)}@lid`,
    () => `${digits(15)}:${int(0, 255)}@lid`,
    () => `${user}:99@hosted`,
    () => `${digits(15)}:99@hosted.lid`,
    () => `${user}@hosted`,
    () => `120363${digits(12)}@g.us`,
    () => `${user}-${digits(10)}@g.us`,
    () => 'status@broadcast',
    () => `${digits(13)}@broadcast`,
    () => `120363${digits(12)}@newsletter`,
    () => `${user}@c.us`,
    () => '0@c.us',
    () => `1313555${digits(4)}@bot`,
    () => `${chars('abcdefABCDEF0123456789', 20)}@call`,
    () => `${digits(15)}@msgr`,
    () => `${digits(15)}:${int(0, 9)}@msgr`,
    () => `${int(1, 9)}-${digits(10)}:${int(0, 5)}@interop`,
    () => pick(['@s.whatsapp.net', '@g.us', '@lid', '@broadcast', '@call', '@newsletter']),
    () => `${user}:${int(256, 70000)}@s.whatsapp.net`,
    () => `${user}:x@s.whatsapp.net`,
    () => `${user}:@s.whatsapp.net`,
    () => `${user}_abc:5@s.whatsapp.net`,
    () => `${user}_0x10:5@s.whatsapp.net`,
    () => `${user}: 12 @lid`,
    () => `a@b@${pick(['c', 'g.us', 's.whatsapp.net'])}`,
    () => `hello@${chars('abcxyz.', int(1, 10))}`,
];
const jid = () => pick(jidKinds(digits(int(5, 15))))();

const unicode = (n) => {
  let s = '';
  for (let i = 0; i < n; i++) {
    const r = rand();
    if (r < 0.6) s += String.fromCodePoint(int(0x20, 0x7e));
    else if (r < 0.8) s += String.fromCodePoint(int(0xa0, 0x7ff));
    else if (r < 0.95) s += String.fromCodePoint(int(0x800, 0xd7ff));
    else s += String.fromCodePoint(int(0x1f300, 0x1faff));
  }
  return s;
};

const text = () => {
  const r = int(0, 13);
  switch (r) {
    case 0: return pick(singleTokens);
    case 1: return pick(doubleTokens);
    case 2: return chars('0123456789-.', int(1, 128));
    case 3: return chars('0123456789ABCDEF', int(1, 128));
    case 4: return chars('0123456789abcdef', int(1, 40));
    case 5: case 6: return jid();
    case 7: return unicode(int(1, 40));
    case 8: return '';
    case 9: return digits(10);
    case 10: return '3EB0' + chars('0123456789ABCDEF', int(12, 28));
    case 11: return chars('abcdefghijklmnopqrstuvwxyz_-:', int(1, 300));
    case 12: return unicode(int(200, 400));
    default: return pick(realisticTags);
  }
};

const key = () => {
  for (;;) {
    const k = rand() < 0.7 ? pick(singleTokens.concat(doubleTokens.slice(0, 300))) : chars('abcdefghijklmnopqrstuvwxyz_-', int(1, 12));
    if (okKey(k)) return k;
  }
};

const tagName = () => {
  for (;;) {
    const t = rand() < 0.7 ? pick(realisticTags) : text();
    if (t !== '') return t;
  }
};

const bytes = (n) => {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (rand() * 256) | 0;
  return b;
};

let bigBudget = { b65536: 6, b1m: 2 };
const content = (depth) => {
  const r = rand();
  if (r < 0.25) return undefined;
  if (r < 0.45) return text();
  if (r < 0.65) {
    const sizes = [0, int(1, 32), int(33, 255), 255, 256, int(257, 1000)];
    if (bigBudget.b65536 > 0 && rand() < 0.01) { bigBudget.b65536--; return bytes(65536); }
    if (bigBudget.b1m > 0 && rand() < 0.003) { bigBudget.b1m--; return bytes((1 << 20) + 1); }
    return bytes(pick(sizes));
  }
  if (depth > 3) return undefined;
  const rr = rand();
  let n;
  if (rr < 0.05) n = 0;
  else if (rr < 0.07) n = 255;
  else if (rr < 0.09) n = 256;
  else if (rr < 0.4) n = 1;
  else n = int(2, 4);
  const leaf = n >= 255;
  return Array.from({ length: n }, () => node(leaf ? 99 : depth + 1));
};

const node = (depth = 0) => {
  const attrs = {};
  const nAttrs = depth >= 99 ? int(0, 2) : int(0, 6);
  // Members of 255/256-long lists stay small: short realistic values.
  const small = () => pick([() => pick(singleTokens), jid, () => digits(int(1, 12))])();
  for (let i = 0; i < nAttrs; i++) attrs[key()] = depth >= 99 ? small() : text();
  const n = { tag: depth >= 99 ? pick(realisticTags) : tagName(), attrs };
  const c = depth >= 99 ? (rand() < 0.5 ? undefined : small()) : content(depth);
  if (c !== undefined) n.content = c;
  return n;
};

const deepNode = (levels) => {
  let n = { tag: pick(realisticTags), attrs: { id: digits(6) }, content: bytes(int(0, 8)) };
  for (let i = 0; i < levels; i++) n = { tag: tagName(), attrs: rand() < 0.5 ? {} : { [key()]: text() }, content: [n] };
  return n;
};

// A realistic message stanza with a 20-device participants list.
const messageStanza = () => ({
  tag: 'message',
  attrs: { id: '3EB0' + chars('0123456789ABCDEF', 16), to: `120363${digits(12)}@g.us`, type: 'text', t: digits(10) },
  content: [
    { tag: 'participants', attrs: {}, content: Array.from({ length: 20 }, () => ({
      tag: 'to', attrs: { jid: `${digits(12)}:${int(0, 30)}@s.whatsapp.net` },
      content: [{ tag: 'enc', attrs: { v: '2', type: pick(['pkmsg', 'msg']) }, content: bytes(int(80, 200)) }],
    })) },
    { tag: 'enc', attrs: { v: '2', type: 'skmsg' }, content: bytes(int(100, 300)) },
    { tag: 'device-identity', attrs: {}, content: bytes(int(100, 200)) },
  ],
});

const toJson = (n) => ({
  tag: n.tag,
  attrs: n.attrs,
  content: n.content === undefined ? null
    : (Buffer.isBuffer(n.content) || n.content instanceof Uint8Array) ? { bytes: Buffer.from(n.content).toString('hex') }
    : Array.isArray(n.content) ? n.content.map(toJson)
    : n.content,
});

const decodeRecord = async (frame) => {
  try {
    if (frame.length > 0 && (frame[0] & 2)) {
      return { decoded: JSON.stringify(toJson(await decodeBinaryNode(frame))) };
    }
    const body = frame.subarray(1);
    const indexRef = { index: 0 };
    if (frame.length === 0) frame.readUInt8(); // Baileys reads the flags byte first
    const n = decodeDecompressedBinaryNode(body, constants, indexRef);
    return { decoded: JSON.stringify(toJson(n)), consumed: indexRef.index, body_len: body.length };
  } catch (e) {
    return { decode_error: String(e && e.message || e) };
  }
};

const out = [];
const emit = (rec) => out.push(JSON.stringify(rec));
const frames = [];

// Fixed coverage first: every JID kind, packed strings of every length 1..128 (nibble and
// hex), the byte-length and list-size boundaries; then the random nodes.
const fixed = [];
for (const kind of jidKinds(digits(12))) fixed.push({ tag: 'to', attrs: { jid: kind() }, content: kind() });
for (let len = 1; len <= 128; len++) {
  fixed.push({ tag: 'x', attrs: { n: chars('0123456789-.', len), h: chars('0123456789ABCDEF', len) } });
}
for (const size of [0, 1, 255, 256, 65535, 65536, (1 << 20) - 1, (1 << 20) + 1]) {
  fixed.push({ tag: 'enc', attrs: { v: '2', type: 'msg' }, content: bytes(size) });
}
for (const n of [0, 1, 255, 256]) {
  fixed.push({ tag: 'list', attrs: {}, content: Array.from({ length: n }, (_, i) => ({ tag: 'item', attrs: { id: String(i) } })) });
}
fixed.push(deepNode(60));

for (let i = 0; i < count + fixed.length; i++) {
  const n = i < fixed.length ? fixed[i] : i % 50 === 0 ? deepNode(int(10, 40)) : i % 25 === 1 ? messageStanza() : node();
  const rec = { kind: 'node', node: JSON.stringify(toJson(n)) };
  let frame;
  try {
    frame = encodeBinaryNode(n);
    rec.frame = frame.toString('hex');
  } catch (e) {
    rec.encode_error = String(e && e.message || e);
  }
  if (frame) {
    Object.assign(rec, await decodeRecord(frame));
    if (frame.length < 20000) frames.push(frame);
  }
  emit(rec);
}

// Compressed frames.
for (let i = 0; i < Math.max(20, count / 50); i++) {
  const src = pick(frames);
  const z = Buffer.concat([Buffer.from([2]), deflateSync(src.subarray(1), { level: int(1, 9) })]);
  emit({ kind: 'zlib', frame: z.toString('hex'), ...(await decodeRecord(z)) });
}

// Damaged frames: truncations, byte flips, reserved tags, bad nibbles, appended bytes.
for (let i = 0; i < Math.max(100, count / 5); i++) {
  const src = Buffer.from(pick(frames));
  let bad;
  switch (int(0, 5)) {
    case 0: bad = src.subarray(0, int(0, src.length - 1)); break;
    case 1: bad = src; bad[int(1, src.length - 1)] = int(0, 255); break;
    case 2: bad = src; bad[int(1, src.length - 1)] = int(0xf0, 0xf4); break;
    case 3: bad = Buffer.concat([src, bytes(int(1, 4))]); break;
    case 4: bad = Buffer.from([0, 0xf8, 0x02, 0x19, 0xff, int(1, 4), ...bytes(4)]); break;
    default: bad = Buffer.from([0, ...bytes(int(1, 24))]); break;
  }
  emit({ kind: 'malformed', frame: bad.toString('hex'), ...(await decodeRecord(bad)) });
}

process.stdout.write(out.join('\n') + '\n');
