// One request (JSON on stdin) against Baileys' pairing code; one JSON answer on stdout.
//   {"op":"pair-success", advSecret, identityPriv, identityPub, deviceIdentity}
//       -> {"ok":true, keyIndex, reply, accountSignatureKey} | {"ok":false, error}
//      (hex bytes, advSecret base64 as Baileys stores it)
//   {"op":"code-key", code, salt}           -> {"key"}            (derivePairingCodeKey)
//   {"op":"crockford", bytes}               -> {"code"}           (bytesToCrockford)
//   {"op":"qr", ref, noise, identity, adv, browser} -> {"qr"}     (buildPairingQRData, keys hex)
//   {"op":"payloads", registrationId, identityPub, spkPub, spkSig, version} -> {"registration","login"} (hex)
import { readFileSync } from 'node:fs';
import {
  configureSuccessfulPairing, derivePairingCodeKey, bytesToCrockford, buildPairingQRData,
  generateRegistrationNode, generateLoginNode,
} from 'baileys/lib/Utils/index.js';
import { proto } from 'baileys';

const req = JSON.parse(readFileSync(0, 'utf8'));
const hex = (s) => Buffer.from(s, 'hex');
const b64 = (s) => hex(s).toString('base64');
let out;
switch (req.op) {
  case 'pair-success': {
    // The node as Baileys' decoder would hand it over: tag, attrs, content (bytes or children).
    const stanza = {
      tag: 'iq', attrs: { from: 's.whatsapp.net', type: 'set', id: 'pair-1' },
      content: [{ tag: 'pair-success', attrs: {}, content: [
        { tag: 'device-identity', attrs: {}, content: hex(req.deviceIdentity) },
        { tag: 'platform', attrs: { name: 'android' } },
        { tag: 'device', attrs: { jid: '6281234567:5@s.whatsapp.net', lid: '98765:5@lid' } },
      ] }],
    };
    const creds = {
      advSecretKey: req.advSecret,
      signedIdentityKey: { private: hex(req.identityPriv), public: hex(req.identityPub) },
      signalIdentities: [],
    };
    try {
      const { reply, creds: update } = configureSuccessfulPairing(stanza, creds);
      const identity = reply.content[0].content[0];
      out = {
        ok: true,
        keyIndex: identity.attrs['key-index'],
        reply: Buffer.from(identity.content).toString('hex'),
        accountSignatureKey: Buffer.from(update.account.accountSignatureKey).toString('hex'),
        me: update.me.id,
      };
    } catch (e) {
      out = { ok: false, error: e.message };
    }
    break;
  }
  case 'code-key':
    out = { key: Buffer.from(await derivePairingCodeKey(req.code, hex(req.salt))).toString('hex') };
    break;
  case 'crockford':
    out = { code: bytesToCrockford(hex(req.bytes)) };
    break;
  case 'qr':
    out = { qr: buildPairingQRData(req.ref, b64(req.noise), b64(req.identity), b64(req.adv), req.browser) };
    break;
  case 'payloads': {
    const config = { version: req.version, browser: ['Mac OS', 'Chrome', '14.4.1'], countryCode: 'US', syncFullHistory: false };
    const creds = {
      registrationId: req.registrationId,
      signedIdentityKey: { public: hex(req.identityPub) },
      signedPreKey: { keyId: 1, keyPair: { public: hex(req.spkPub) }, signature: hex(req.spkSig) },
    };
    const enc = (p) => Buffer.from(proto.ClientPayload.encode(p).finish()).toString('hex');
    out = {
      registration: enc(generateRegistrationNode(creds, config)),
      login: enc(generateLoginNode('6281234567:5@s.whatsapp.net', config)),
    };
    break;
  }
  default:
    throw new Error(`unknown op ${req.op}`);
}
console.log(JSON.stringify(out));
