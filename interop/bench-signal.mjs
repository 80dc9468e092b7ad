// The work of benches/signal.rs, done by libsignal-node 6.0.0 (1:1) and Baileys
// 7.0.0-rc14's sender keys (groups). Run from the harness dir:
//   node bench-signal.mjs
// Prints one line per case: mean time per operation.
import { createRequire } from 'node:module';
import {
  GroupCipher, GroupSessionBuilder, SenderKeyName, SenderKeyRecord,
} from 'baileys/lib/Signal/Group/index.js';

const require = createRequire(import.meta.url);
const libsignal = require('libsignal');
console.info = console.warn = console.log = () => {}; // libsignal-node logs session events

function device() {
  const identity = libsignal.keyhelper.generateIdentityKeyPair();
  const registrationId = libsignal.keyhelper.generateRegistrationId();
  const preKeys = new Map();
  const signedPreKeys = new Map();
  const sessions = new Map();
  const storage = {
    async loadSession(id) { return sessions.get(id); },
    async storeSession(id, record) { sessions.set(id, record); },
    async isTrustedIdentity() { return true; },
    async loadPreKey(id) { return preKeys.get(Number(id)); },
    async removePreKey(id) { preKeys.delete(Number(id)); },
    async loadSignedPreKey(id) { return signedPreKeys.get(Number(id)); },
    async getOurRegistrationId() { return registrationId; },
    async getOurIdentity() { return identity; },
  };
  const bundle = (id) => {
    const pre = libsignal.keyhelper.generatePreKey(id);
    const signed = libsignal.keyhelper.generateSignedPreKey(identity, id);
    preKeys.set(id, pre.keyPair);
    signedPreKeys.set(id, signed.keyPair);
    return {
      registrationId,
      identityKey: identity.pubKey,
      signedPreKey: { keyId: id, publicKey: signed.keyPair.pubKey, signature: signed.signature },
      preKey: { keyId: id, publicKey: pre.keyPair.pubKey },
    };
  };
  return { storage, bundle };
}

const addr = (name) => new libsignal.ProtocolAddress(name, 1);
const MESSAGE = Buffer.alloc(100, 0x42);

async function connect(alice, bob, aName, bName) {
  await new libsignal.SessionBuilder(alice.storage, addr(bName)).initOutgoing(bob.bundle(1));
  const m = await new libsignal.SessionCipher(alice.storage, addr(bName)).encrypt(Buffer.from('hello'));
  await new libsignal.SessionCipher(bob.storage, addr(aName)).decryptPreKeyWhisperMessage(Buffer.from(m.body));
  const r = await new libsignal.SessionCipher(bob.storage, addr(aName)).encrypt(Buffer.from('hi'));
  await new libsignal.SessionCipher(alice.storage, addr(bName)).decryptWhisperMessage(Buffer.from(r.body));
}

async function measure(label, iterations, fn) {
  for (let i = 0; i < Math.min(iterations, 50); i++) await fn();
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) await fn();
  const ns = Number(process.hrtime.bigint() - start) / iterations;
  const shown = ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : `${(ns / 1e3).toFixed(1)} µs`;
  process.stdout.write(`${label.padEnd(36)} ${shown}\n`);
}

const alice = device();
const bob = device();
await connect(alice, bob, 'a', 'b');
const toBob = new libsignal.SessionCipher(alice.storage, addr('b'));

await measure('signal/encrypt_100B', 5000, () => toBob.encrypt(MESSAGE));
{
  // Decrypt in order: make a batch of ciphertexts first (untimed), then decrypt them.
  const c = device(), d = device();
  await connect(c, d, 'c', 'd');
  const enc = new libsignal.SessionCipher(c.storage, addr('d'));
  const dec = new libsignal.SessionCipher(d.storage, addr('c'));
  const batch = [];
  for (let i = 0; i < 5050; i++) batch.push(Buffer.from((await enc.encrypt(MESSAGE)).body));
  let i = 0;
  await measure('signal/decrypt_100B', 5000, () => dec.decryptWhisperMessage(batch[i++]));
  // The same in-order pair, so the receiver's chain is never far behind.
  await measure('signal/encrypt_decrypt_100B', 5000, async () => {
    const m = await enc.encrypt(MESSAGE);
    await dec.decryptWhisperMessage(Buffer.from(m.body));
  });
}
await measure('signal/session_setup', 300, async () => {
  const x = device(), y = device();
  const bundle = y.bundle(1); // bundle creation is untimed in the Rust bench; see docs
  await new libsignal.SessionBuilder(x.storage, addr('y')).initOutgoing(bundle);
  const m = await new libsignal.SessionCipher(x.storage, addr('y')).encrypt(MESSAGE);
  await new libsignal.SessionCipher(y.storage, addr('x')).decryptPreKeyWhisperMessage(Buffer.from(m.body));
});

for (const devices of [1, 256]) {
  const sender = device();
  const peers = [];
  for (let i = 0; i < devices; i++) {
    const peer = device();
    const name = `p${i}`;
    await connect(sender, peer, 's', name);
    peers.push(new libsignal.SessionCipher(sender.storage, addr(name)));
  }
  const records = new Map();
  const store = {
    async loadSenderKey(n) { return records.get(n.toString()) ?? new SenderKeyRecord(); },
    async storeSenderKey(n, r) { records.set(n.toString(), r); },
  };
  const name = new SenderKeyName('120363021033254949@g.us', { id: 's', deviceId: 1, toString: () => 's.1' });
  const skdm = Buffer.from((await new GroupSessionBuilder(store).create(name)).serialize());
  const cipher = new GroupCipher(store, name);
  // Few iterations: each Baileys sender-key encrypt signs in pure JavaScript (milliseconds).
  if (devices === 1) {
    await measure('signal_group/sender_key_encrypt_100B', 20, () => cipher.encrypt(MESSAGE));
  }
  await measure(`signal_group/send_100B_to_${devices}_devices`, 20, async () => {
    await cipher.encrypt(MESSAGE);
    for (const p of peers) await p.encrypt(skdm);
  });
}
