// One request (JSON on stdin) against Baileys' pairing code; one JSON answer on stdout.
//   {"op":"pair-success", advSecret, identityPriv, identityPub, deviceIdentity}
//       -> {"ok":true, keyIndex, reply, accountSignatureKey} | {"ok":false, error}
//      (hex bytes, advSecret base64 as Baileys stores it)
//   {"op":"code-key", code, salt}           -> {"key"}            (derivePairingCodeKey)
//   {"op":"crockford", bytes}               -> {"code"}           (bytesToCrockford)
//   {"op":"qr", ref, noise, identity, adv, browser} -> {"qr"}     (buildPairingQRData, keys hex)
//   {"op":"payloads", registrationId, identityPub, spkPub, spkSig, version} -> {"registration","login"} (hex)
//   {"op":"code-finish", code, ephemeralPriv, identityPriv, identityPub, wrappedPrimary, primaryIdentity,
//    random, salt, iv} -> {"bundle","advSecret"}: the companion's answer to the phone's notification,
//      built from Baileys' exported primitives in the order of its link_code_companion_reg handler
//      (that handler is private to the socket and draws its own randomness).
import { readFileSync } from 'node:fs';
import {
  configureSuccessfulPairing, derivePairingCodeKey, bytesToCrockford, buildPairingQRData,
  generateRegistrationNode, generateLoginNode, aesDecryptCTR, aesEncryptGCM, hkdf, Curve,
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
  case 'code-finish': {
    const wrapped = hex(req.wrappedPrimary);
    const codeKey = await derivePairingCodeKey(req.code, wrapped.slice(0, 32));
    const primaryEphemeral = aesDecryptCTR(wrapped.slice(48, 80), codeKey, wrapped.slice(32, 48));
    const shared = Curve.sharedKey(hex(req.ephemeralPriv), primaryEphemeral);
    const bundleKey = hkdf(shared, 32, { salt: hex(req.salt), info: 'link_code_pairing_key_bundle_encryption_key' });
    const plaintext = Buffer.concat([hex(req.identityPub), hex(req.primaryIdentity), hex(req.random)]);
    const sealed = aesEncryptGCM(plaintext, bundleKey, hex(req.iv), Buffer.alloc(0));
    const identityShared = Curve.sharedKey(hex(req.identityPriv), hex(req.primaryIdentity));
    const adv = hkdf(Buffer.concat([shared, identityShared, hex(req.random)]), 32, { info: 'adv_secret' });
    out = {
      bundle: Buffer.concat([hex(req.salt), hex(req.iv), sealed]).toString('hex'),
      advSecret: Buffer.from(adv).toString('hex'),
    };
    break;
  }
  default:
    throw new Error(`unknown op ${req.op}`);
}
console.log(JSON.stringify(out));
