// Baileys 7.0.0-rc14's sender-key implementation spoken to in JSON lines, for
// tests/signal_interop.rs. Bytes are hex.
//
//   {"op":"create","group","name","device"}             -> {"skdm"} (GroupSessionBuilder.create)
//   {"op":"process","group","name","device","skdm"}     -> {"ok"}
//   {"op":"encrypt","group","name","device","plaintext"} -> {"body"}
//   {"op":"decrypt","group","name","device","body"}     -> {"plaintext"} or {"error"}
import readline from 'node:readline';
import {
  GroupCipher,
  GroupSessionBuilder,
  SenderKeyDistributionMessage,
  SenderKeyName,
  SenderKeyRecord,
} from 'baileys/lib/Signal/Group/index.js';

const hex = (b) => Buffer.from(b).toString('hex');
const unhex = (s) => Buffer.from(s, 'hex');

const records = new Map();
const store = {
  async loadSenderKey(name) {
    return records.get(name.toString()) ?? new SenderKeyRecord();
  },
  async storeSenderKey(name, record) {
    records.set(name.toString(), record);
  },
};

const keyName = (req) =>
  new SenderKeyName(req.group, { id: req.name, deviceId: req.device, toString: () => `${req.name}.${req.device}` });

async function handle(req) {
  const name = keyName(req);
  switch (req.op) {
    case 'create': {
      const skdm = await new GroupSessionBuilder(store).create(name);
      return { skdm: hex(skdm.serialize()) };
    }
    case 'process': {
      const skdm = new SenderKeyDistributionMessage(null, null, null, null, unhex(req.skdm));
      await new GroupSessionBuilder(store).process(name, skdm);
      return { ok: true };
    }
    case 'encrypt':
      return { body: hex(await new GroupCipher(store, name).encrypt(unhex(req.plaintext))) };
    case 'decrypt':
      try {
        return { plaintext: hex(await new GroupCipher(store, name).decrypt(unhex(req.body))) };
      } catch (e) {
        return { error: String(e && e.message || e) };
      }
    default:
      return { error: `unknown op ${req.op}` };
  }
}

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
