// Downloads and decrypts one media blob with Baileys' own downloader.
// stdin: {"media_key": base64, "url": "http://…", "type": "image|video|audio|document|sticker"}
// stdout: {"sha256": hex of the plaintext, "length": n}
// `directPath` is left out on purpose: Baileys builds https://<host><directPath> from it,
// while the sandbox's media host speaks plain HTTP; with only `url` Baileys fetches that.
import { createHash } from 'node:crypto';
import { downloadContentFromMessage } from 'baileys';

console.log = console.info = console.warn = console.debug = () => {};
let input = '';
for await (const chunk of process.stdin) input += chunk;
const { media_key, url, type } = JSON.parse(input);
const stream = await downloadContentFromMessage(
  { mediaKey: Buffer.from(media_key, 'base64'), url },
  type,
);
const hash = createHash('sha256');
let length = 0;
for await (const chunk of stream) {
  hash.update(chunk);
  length += chunk.length;
}
process.stdout.write(JSON.stringify({ sha256: hash.digest('hex'), length }) + '\n');
