// Prints one JSON line {"name","hex"} per sample: the Message protobuf Baileys'
// generateWAMessage builds for a content object (no upload, no network).
import { generateWAMessage } from 'baileys/lib/Utils/index.js';
import { proto } from 'baileys';

const chat = '6281@s.whatsapp.net';
const group = '120363@g.us';
const target = { remoteJid: group, fromMe: false, id: '3EB0TARGET', participant: '6282@s.whatsapp.net' };
const own = { remoteJid: chat, fromMe: true, id: '3EB0MINE' };
const quoted = { key: { remoteJid: chat, fromMe: false, id: '3EB0QUOTED' }, message: { conversation: 'the original' } };
const vcard = 'BEGIN:VCARD\nVERSION:3.0\nFN:Budi\nTEL;type=CELL;waid=6283:+62 83\nEND:VCARD';

const samples = [
  ['text', chat, { text: 'hello' }, {}],
  ['mention', group, { text: 'hi @6283', mentions: ['6283@s.whatsapp.net'] }, {}],
  ['reply', chat, { text: 'yes' }, { quoted }],
  ['preview', chat, { text: 'see https://example.com', linkPreview: {
    'matched-text': 'https://example.com', title: 'Example', description: 'An example',
    jpegThumbnail: Buffer.from([0xff, 0xd8]) } }, {}],
  ['location', chat, { location: { degreesLatitude: -6.175392, degreesLongitude: 106.827153, name: 'Monas', address: 'Jakarta' } }, {}],
  ['contact', chat, { contacts: { displayName: 'Budi', contacts: [{ displayName: 'Budi', vcard }] } }, {}],
  ['reaction', group, { react: { key: target, text: '👍', senderTimestampMs: 1700000000000 } }, {}],
  ['unreact', group, { react: { key: target, text: '', senderTimestampMs: 1700000000001 } }, {}],
  ['poll', group, { poll: { name: 'Lunch?', values: ['Nasi', 'Mie', 'Soto'], selectableCount: 2, messageSecret: Buffer.alloc(32, 7) } }, {}],
  ['poll-single', group, { poll: { name: 'Yes?', values: ['Y', 'N'], selectableCount: 1, messageSecret: Buffer.alloc(32, 8) } }, {}],
  ['edit', chat, { text: 'fixed typo', edit: own }, {}],
  ['revoke', chat, { delete: own }, {}],
];

for (const [name, jid, content, options] of samples) {
  const msg = await generateWAMessage(jid, content, { userJid: '6280@s.whatsapp.net', upload: async () => { throw new Error('no upload'); }, ...options });
  const hex = Buffer.from(proto.Message.encode(msg.message).finish()).toString('hex');
  console.log(JSON.stringify({ name, hex }));
}
