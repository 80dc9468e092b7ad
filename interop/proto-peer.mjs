// JSON-lines peer over Baileys' generated protobuf code (WAProto, protobufjs).
//   {"op":"samples"}                 -> {"samples":[{"type","b64","json"}…]}: populated instances
//   {"op":"decode","type","b64"}     -> {"json"}: Baileys' view of bytes we encoded
// JSON uses protobufjs' toJSON conventions: 64-bit integers and enums as strings, bytes base64.
import { createInterface } from 'node:readline';
import { proto } from 'baileys';

const b = (s) => Buffer.from(s);
const JSON_OPTS = { longs: String, enums: String, bytes: String };
const typeOf = (name) => name.split('.').reduce((t, part) => t[part], proto);
const toJson = (type, msg) => type.toObject(msg, JSON_OPTS);

const key = (id) => ({ remoteJid: '123@g.us', fromMe: true, id, participant: '456@s.whatsapp.net' });
const contextInfo = {
  stanzaId: 'QUOTED1', participant: '111@s.whatsapp.net', quotedMessage: { conversation: 'quoted text' },
  remoteJid: '123@g.us', mentionedJid: ['222@s.whatsapp.net', '333@s.whatsapp.net'], conversionSource: 'src',
  conversionData: b('cdata'), conversionDelaySeconds: 5, forwardingScore: 2, isForwarded: true,
  placeholderKey: key('PH1'), expiration: 86400, ephemeralSettingTimestamp: 1700000001,
};
const media = { mediaKey: b('k'.repeat(32)), fileSha256: b('s'.repeat(32)), fileEncSha256: b('e'.repeat(32)), directPath: '/v/t62/abc', mediaKeyTimestamp: 1700000002, url: 'https://mmg.whatsapp.net/x', fileLength: 12345 };

const messages = {
  text: { conversation: 'hello world' },
  extendedText: { extendedTextMessage: {
    text: 'see https://example.com @222', matchedText: 'https://example.com', description: 'An example', title: 'Example',
    textArgb: 0xff112233, backgroundArgb: 0xff445566, jpegThumbnail: b('thumb'), contextInfo, doNotPlayInline: true,
    thumbnailDirectPath: '/thumb', thumbnailSha256: b('ts'), thumbnailEncSha256: b('tes'), mediaKey: b('mk'),
    mediaKeyTimestamp: 1700000003, thumbnailHeight: 100, thumbnailWidth: 200, viewOnce: true } },
  image: { imageMessage: { ...media, mimetype: 'image/jpeg', caption: 'a photo', height: 640, width: 480,
    jpegThumbnail: b('jt'), contextInfo, firstScanSidecar: b('fss'), firstScanLength: 7, scansSidecar: b('ss'),
    scanLengths: [1, 2, 3], midQualityFileSha256: b('mq'), viewOnce: true, thumbnailDirectPath: '/t',
    thumbnailSha256: b('t1'), thumbnailEncSha256: b('t2'), staticUrl: 'https://static' } },
  video: { videoMessage: { ...media, mimetype: 'video/mp4', seconds: 12, caption: 'a video', gifPlayback: true,
    height: 720, width: 1280, jpegThumbnail: b('jt'), contextInfo, streamingSidecar: b('sc'), viewOnce: true,
    thumbnailDirectPath: '/t', thumbnailSha256: b('t1'), thumbnailEncSha256: b('t2'), staticUrl: 'https://static' } },
  ptv: { ptvMessage: { ...media, mimetype: 'video/mp4', seconds: 3 } },
  audio: { audioMessage: { ...media, mimetype: 'audio/ogg; codecs=opus', seconds: 9, ptt: true, contextInfo,
    streamingSidecar: b('sc'), waveform: b([0, 10, 20, 99]), backgroundArgb: 0xff000000, viewOnce: true } },
  document: { documentMessage: { ...media, mimetype: 'application/pdf', title: 'Report', pageCount: 4,
    fileName: 'report.pdf', contactVcard: true, thumbnailDirectPath: '/t', thumbnailSha256: b('t1'),
    thumbnailEncSha256: b('t2'), jpegThumbnail: b('jt'), contextInfo, thumbnailHeight: 10, thumbnailWidth: 20,
    caption: 'the report' } },
  sticker: { stickerMessage: { ...media, mimetype: 'image/webp', height: 512, width: 512, firstFrameLength: 3,
    firstFrameSidecar: b('ffs'), isAnimated: true, pngThumbnail: b('png'), contextInfo, stickerSentTs: 1700000004,
    isAvatar: true } },
  location: { locationMessage: { degreesLatitude: -6.2, degreesLongitude: 106.816666, name: 'Monas',
    address: 'Jakarta', url: 'https://maps', isLive: true, accuracyInMeters: 15, speedInMps: 1.5,
    degreesClockwiseFromMagneticNorth: 90, comment: 'here', jpegThumbnail: b('jt'), contextInfo } },
  contact: { contactMessage: { displayName: 'Budi', vcard: 'BEGIN:VCARD\nVERSION:3.0\nFN:Budi\nEND:VCARD', contextInfo } },
  reaction: { reactionMessage: { key: key('TARGET1'), text: '👍', groupingKey: '👍', senderTimestampMs: 1700000005000 } },
  revoke: { protocolMessage: { key: key('REVOKED1'), type: 'REVOKE', ephemeralExpiration: 0,
    ephemeralSettingTimestamp: 1700000006, timestampMs: 1700000007000, invokerJid: '999@s.whatsapp.net' } },
  edit: { editedMessage: { message: { protocolMessage: { key: key('EDITED1'), type: 'MESSAGE_EDIT',
    editedMessage: { conversation: 'fixed typo' }, timestampMs: 1700000008000 } } } },
  skdm: { senderKeyDistributionMessage: { groupId: '123@g.us', axolotlSenderKeyDistributionMessage: b([0x33, 1, 2, 3]) },
    conversation: 'with skdm' },
  deviceSent: { deviceSentMessage: { destinationJid: '555@s.whatsapp.net', message: { conversation: 'to myself' }, phash: '2:abcdef' } },
  poll: { pollCreationMessage: { encKey: b('ek'), name: 'Lunch?', options: [{ optionName: 'Nasi', optionHash: 'h1' }, { optionName: 'Mie', optionHash: 'h2' }],
    selectableOptionsCount: 0, contextInfo }, messageContextInfo: { deviceListMetadataVersion: 2, messageSecret: b('m'.repeat(32)),
    paddingBytes: b('pad'), messageAddOnDurationInSecs: 60, botMessageSecret: b('bot'), reportingTokenVersion: 1 } },
  pollV2: { pollCreationMessageV2: { name: 'Announce', options: [{ optionName: 'A' }], selectableOptionsCount: 1 } },
  pollV3: { pollCreationMessageV3: { name: 'Single', options: [{ optionName: 'X' }, { optionName: 'Y' }], selectableOptionsCount: 1 } },
  wrappers: { viewOnceMessage: { message: { conversation: 'v1' } }, ephemeralMessage: { message: { conversation: 'eph' } },
    documentWithCaptionMessage: { message: { documentMessage: { caption: 'doc' } } }, viewOnceMessageV2: { message: { conversation: 'v2' } } },
};

const samples = [];
const add = (type, obj) => {
  const t = typeOf(type);
  const msg = t.fromObject(obj);
  samples.push({ type, b64: Buffer.from(t.encode(msg).finish()).toString('base64'), json: toJson(t, msg) });
};
for (const m of Object.values(messages)) add('Message', m);
add('MessageKey', key('K1'));
add('WebMessageInfo', { key: key('W1'), message: messages.extendedText, messageTimestamp: 1700000009, status: 'READ',
  participant: '456@s.whatsapp.net', messageC2STimestamp: 1700000010, ignore: true, starred: true, broadcast: true,
  pushName: 'Siti', mediaCiphertextSha256: b('mcs'), multicast: true, messageStubParameters: ['a', 'b'], duration: 30,
  labels: ['l1'], ephemeralStartTimestamp: 1700000011, ephemeralDuration: 604800, verifiedBizName: 'Toko' });
add('HandshakeMessage', { clientHello: { ephemeral: b('E'.repeat(32)), static: b('S'.repeat(48)), payload: b('P'), useExtended: true, extendedCiphertext: b('X') } });
add('HandshakeMessage', { serverHello: { ephemeral: b('e'.repeat(32)), static: b('s'.repeat(48)), payload: b('cert'), extendedStatic: b('xs') } });
add('HandshakeMessage', { clientFinish: { static: b('s'.repeat(48)), payload: b('payload'), extendedCiphertext: b('xc') } });
const details = (serial, issuerSerial) => Buffer.from(proto.CertChain.NoiseCertificate.Details.encode({ serial, issuerSerial, key: b('K'.repeat(32)), notBefore: 1700000000, notAfter: 1800000000 }).finish());
add('CertChain.NoiseCertificate.Details', { serial: 7, issuerSerial: 3, key: b('K'.repeat(32)), notBefore: 1700000000, notAfter: 1800000000 });
add('CertChain', { leaf: { details: details(2, 1), signature: b('L'.repeat(64)) }, intermediate: { details: details(1, 0), signature: b('I'.repeat(64)) } });
const deviceProps = { os: 'Wasap', version: { primary: 10, secondary: 15, tertiary: 7, quaternary: 1, quinary: 2 }, platformType: 'CHROME', requireFullSync: true,
  historySyncConfig: { fullSyncDaysLimit: 1, fullSyncSizeMbLimit: 2, storageQuotaMb: 10240, inlineInitialPayloadInE2EeMsg: true, recentSyncDaysLimit: 3,
    supportCallLogHistory: true, supportBotUserAgentChatHistory: true, supportCagReactionsAndPolls: true, supportBizHostedMsg: true,
    supportRecentSyncChunkMessageCountTuning: true, supportHostedGroupMsg: true, supportFbidBotChatHistory: true, supportAddOnHistorySyncMigration: true,
    supportMessageAssociation: true, supportGroupHistory: true, onDemandReady: true, supportGuestChat: true, completeOnDemandReady: true, thumbnailSyncDaysLimit: 4 } };
add('DeviceProps', deviceProps);
add('ClientPayload', { username: 6281234567890, passive: true, pushName: 'Bot', sessionId: -5, shortConnect: true,
  connectType: 'WIFI_UNKNOWN', connectReason: 'USER_ACTIVATED', shards: [1, 2], dnsSource: { dnsMethod: 'HARDCODED', appCached: true },
  connectAttemptCount: 3, device: 12, product: 'WHATSAPP_LID', fbCat: b('cat'), fbUserAgent: b('ua'), oc: true, lc: 1,
  iosAppExtension: 'SERVICE_EXTENSION', fbAppId: 99, fbDeviceId: b('dev'), pull: true, paddingBytes: b('pp'), yearClass: 2020, memClass: 4,
  interopData: { accountId: 5, token: b('tok'), enableReadReceipts: true }, trafficAnonymization: 'STANDARD', lidDbMigrated: true,
  accountType: 'GUEST', connectionSequenceInfo: -7, paaLink: true, preacksCount: 8, processingQueueSize: 9,
  userAgent: { platform: 'WEB', appVersion: { primary: 2, secondary: 3000, tertiary: 1035194821, quaternary: 4, quinary: 5 }, mcc: '000', mnc: '000',
    osVersion: '0.1', manufacturer: 'M', device: 'Desktop', osBuildNumber: '0.1', phoneId: 'pid', releaseChannel: 'BETA',
    localeLanguageIso6391: 'id', localeCountryIso31661Alpha2: 'ID', deviceBoard: 'board', deviceExpId: 'exp', deviceType: 'DESKTOP', deviceModelType: 'model' },
  webInfo: { refToken: 'ref', version: '2.3000', webSubPlatform: 'DARWIN', webdPayload: { usesParticipantInKey: true, supportsStarredMessages: true,
    supportsDocumentMessages: true, supportsUrlMessages: true, supportsMediaRetry: true, supportsE2EImage: true, supportsE2EVideo: true,
    supportsE2EAudio: true, supportsE2EDocument: true, documentTypes: 'pdf', features: b('f') } },
  devicePairingData: { eRegid: b([0, 0, 0x12, 0x34]), eKeytype: b([5]), eIdent: b('I'.repeat(32)), eSkeyId: b([0, 0, 1]), eSkeyVal: b('V'.repeat(32)),
    eSkeySig: b('G'.repeat(64)), buildHash: b('H'.repeat(16)), deviceProps: Buffer.from(proto.DeviceProps.encode(deviceProps).finish()) } });
add('ADVDeviceIdentity', { rawId: 77, timestamp: 1700000012, keyIndex: 3, accountType: 'HOSTED', deviceType: 'HOSTED' });
add('ADVSignedDeviceIdentity', { details: b('d'), accountSignatureKey: b('A'.repeat(32)), accountSignature: b('a'.repeat(64)), deviceSignature: b('D'.repeat(64)) });
add('ADVSignedDeviceIdentityHMAC', { details: b('d'), hmac: b('h'.repeat(32)), accountType: 'HOSTED' });
add('ADVKeyIndexList', { rawId: 77, timestamp: 1700000013, currentIndex: 5, validIndexes: [1, 4, 5], accountType: 'HOSTED' });
add('ADVSignedKeyIndexList', { details: b('d'), accountSignature: b('a'.repeat(64)), accountSignatureKey: b('A'.repeat(32)) });

const rl = createInterface({ input: process.stdin });
for await (const line of rl) {
  const req = JSON.parse(line);
  let res;
  try {
    if (req.op === 'samples') res = { samples };
    else if (req.op === 'decode') {
      const t = typeOf(req.type);
      res = { json: toJson(t, t.decode(Buffer.from(req.b64, 'base64'))) };
    } else res = { error: `unknown op ${req.op}` };
  } catch (e) {
    res = { error: String(e && e.stack || e) };
  }
  process.stdout.write(JSON.stringify(res) + '\n');
}
