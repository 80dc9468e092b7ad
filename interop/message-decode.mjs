// Reads a JSON array of {"name","hex"} (Message protobufs we encoded) on stdin and prints, per
// item, Baileys' view: {"name","type","json"} with type = getContentType(normalizeMessageContent(m))
// and json = the decoded message (longs and enums as strings, bytes base64).
import { readFileSync } from 'node:fs';
import { getContentType, normalizeMessageContent } from 'baileys/lib/Utils/index.js';
import { proto } from 'baileys';

const items = JSON.parse(readFileSync(0, 'utf8'));
const out = items.map(({ name, hex }) => {
  const msg = proto.Message.decode(Buffer.from(hex, 'hex'));
  const type = getContentType(normalizeMessageContent(msg));
  const json = proto.Message.toObject(msg, { longs: String, enums: String, bytes: String });
  return { name, type, json };
});
console.log(JSON.stringify(out));
