// A libsignal-node (npm libsignal@6.0.0) device spoken to in JSON lines, for
// tests/signal_interop.rs. One request per line, one answer per line; bytes are hex.
//
//   {"op":"bundle","preKeyId":n,"signedPreKeyId":m} -> our bundle with fresh keys
//   {"op":"process","name","device","bundle":{…}}    -> SessionBuilder.initOutgoing
//   {"op":"encrypt","name","device","plaintext"}     -> {"type":1|3,"body"}
//   {"op":"decrypt","name","device","type","body"}   -> {"plaintext"} or {"error"}
import { createRequire } from 'node:module';
import readline from 'node:readline';

const require = createRequire(import.meta.url);
const libsignal = require('libsignal');

const hex = (b) => Buffer.from(b).toString('hex');
const unhex = (s) => Buffer.from(s, 'hex');

const identity = libsignal.keyhelper.generateIdentityKeyPair();
const registrationId = libsignal.keyhelper.generateRegistrationId();
const preKeys = new Map();
const signedPreKeys = new Map();
const sessions = new Map();

// The minimal storage object libsignal-node expects.
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

const address = (req) => new libsignal.ProtocolAddress(req.name, req.device);

async function handle(req) {
  switch (req.op) {
    case 'bundle': {
      const pre = libsignal.keyhelper.generatePreKey(req.preKeyId);
      const signed = libsignal.keyhelper.generateSignedPreKey(identity, req.signedPreKeyId);
      preKeys.set(pre.keyId, pre.keyPair);
      signedPreKeys.set(signed.keyId, signed.keyPair);
      return {
        registrationId,
        identityKey: hex(identity.pubKey),
        signedPreKey: { keyId: signed.keyId, publicKey: hex(signed.keyPair.pubKey), signature: hex(signed.signature) },
        preKey: { keyId: pre.keyId, publicKey: hex(pre.keyPair.pubKey) },
      };
    }
    case 'process': {
      const b = req.bundle;
      const device = {
        registrationId: b.registrationId,
        identityKey: unhex(b.identityKey),
        signedPreKey: { keyId: b.signedPreKey.keyId, publicKey: unhex(b.signedPreKey.publicKey), signature: unhex(b.signedPreKey.signature) },
      };
      if (b.preKey) device.preKey = { keyId: b.preKey.keyId, publicKey: unhex(b.preKey.publicKey) };
      await new libsignal.SessionBuilder(storage, address(req)).initOutgoing(device);
      return { ok: true };
    }
    case 'encrypt': {
      const out = await new libsignal.SessionCipher(storage, address(req)).encrypt(unhex(req.plaintext));
      return { type: out.type, body: hex(Buffer.from(out.body)) };
    }
    case 'decrypt': {
      const cipher = new libsignal.SessionCipher(storage, address(req));
      try {
        const pt = req.type === 3
          ? await cipher.decryptPreKeyWhisperMessage(unhex(req.body))
          : await cipher.decryptWhisperMessage(unhex(req.body));
        return { plaintext: hex(pt) };
      } catch (e) {
        return { error: String(e && e.message || e) };
      }
    }
    default:
      return { error: `unknown op ${req.op}` };
  }
}

// libsignal-node logs session events to the console; keep stdout for answers only.
console.log = (...args) => process.stderr.write(args.join(' ') + '\n');
console.info = console.warn = console.log;

const rl = readline.createInterface({ input: process.stdin });
for await (const line of rl) {
  if (!line.trim()) continue;
  let answer;
  try {
    answer = await handle(JSON.parse(line));
  } catch (e) {
    answer = { error: String(e && e.stack || e) };
  }
  process.stdout.write(JSON.stringify(answer) + '\n');
}
