// JSON-lines peer driving Baileys' client-side Noise handler (makeNoiseHandler), the same
// calls its socket makes in validateConnection. All binary values travel as hex.
//   {"op":"start","root","ephemeral","static","routing"?} -> {"wire"}: intro + ClientHello frame
//      root: trusted root public key (patched into WA_CERT_DETAILS.PUBLIC_KEY) or omitted to
//      keep WhatsApp's production root; ephemeral/static: private keys (public derived).
//   {"op":"server_hello","wire","payload"}          -> {"wire"}: ClientFinish frame
//   {"op":"send","data"}                            -> {"wire"}: one transport frame
//   {"op":"recv","wire"}                            -> {"nodes":[…]}: decoded binary nodes
//   {"op":"encode_node","node"}                     -> {"data"}: Baileys' WABinary encoding
//   {"op":"verify_chain","chain","root"}            -> {"intermediate","leaf","issuerSerial"}:
//      the signature checks Baileys intends, with libsignal's boolean result honoured
// Failures answer {"error": message}.
import { createInterface } from 'node:readline';
import { createRequire } from 'node:module';
import { proto, WA_CERT_DETAILS, NOISE_WA_HEADER, encodeBinaryNode } from 'baileys';
import { makeNoiseHandler } from 'baileys/lib/Utils/noise-handler.js';

const require = createRequire(import.meta.url);
const curve = require('libsignal/src/curve.js');

const hex = (buf) => Buffer.from(buf).toString('hex');
const unhex = (s) => Buffer.from(s, 'hex');
const keyPair = (privHex) => {
  const priv = unhex(privHex);
  return { private: priv, public: Buffer.from(curve.getPublicFromPrivateKey(priv)).subarray(1) };
};
const silent = { level: 'silent', trace() {}, debug() {}, info() {}, warn() {}, error() {}, child() { return silent; } };

let noise;
let noiseKey;
// Frames Baileys' decodeFrame hands to its callback, collected per request.
const received = [];
const feed = async (wire) => {
  received.length = 0;
  await noise.decodeFrame(unhex(wire), (frame) => received.push(frame));
  return received.splice(0);
};

const ops = {
  async start({ root, ephemeral, static: staticPriv, routing }) {
    // Baileys reads the root key from this exported object each time it verifies a chain.
    if (root) WA_CERT_DETAILS.PUBLIC_KEY = unhex(root);
    noiseKey = keyPair(staticPriv);
    const eph = keyPair(ephemeral);
    noise = makeNoiseHandler({ keyPair: eph, NOISE_HEADER: NOISE_WA_HEADER, logger: silent, routingInfo: routing ? unhex(routing) : undefined });
    const hello = proto.HandshakeMessage.encode({ clientHello: { ephemeral: eph.public } }).finish();
    return { wire: hex(noise.encodeFrame(hello)) };
  },
  async server_hello({ wire, payload }) {
    const frames = await feed(wire);
    if (frames.length !== 1) throw new Error(`expected one handshake frame, got ${frames.length}`);
    const handshake = proto.HandshakeMessage.decode(frames[0]);
    const keyEnc = noise.processHandshake(handshake, noiseKey);
    const payloadEnc = noise.encrypt(unhex(payload));
    const finish = proto.HandshakeMessage.encode({ clientFinish: { static: keyEnc, payload: payloadEnc } }).finish();
    const out = noise.encodeFrame(finish);
    await noise.finishInit();
    return { wire: hex(out) };
  },
  async send({ data }) {
    return { wire: hex(noise.encodeFrame(unhex(data))) };
  },
  async recv({ wire }) {
    const nodes = await feed(wire);
    return { nodes: nodes.map((n) => ({ tag: n.tag, attrs: n.attrs, content: typeof n.content === 'string' ? n.content : n.content === undefined ? null : hex(n.content) })) };
  },
  async verify_chain({ chain, root }) {
    const { intermediate, leaf } = proto.CertChain.decode(unhex(chain));
    const details = proto.CertChain.NoiseCertificate.Details.decode(intermediate.details);
    const verify = (key, msg, sig) => curve.verifySignature(Buffer.concat([Buffer.from([5]), key]), msg, sig);
    return {
      intermediate: verify(unhex(root), intermediate.details, intermediate.signature),
      leaf: verify(details.key, leaf.details, leaf.signature),
      issuerSerial: details.issuerSerial ?? null,
    };
  },
  async encode_node({ node }) {
    return { data: hex(encodeBinaryNode(node)) };
  },
};

const rl = createInterface({ input: process.stdin });
for await (const line of rl) {
  const req = JSON.parse(line);
  let res;
  try {
    res = await ops[req.op](req);
  } catch (e) {
    res = { error: String(e && e.message || e) };
  }
  process.stdout.write(JSON.stringify(res) + '\n');
}
