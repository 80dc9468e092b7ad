// Prints the versions of the pinned packages, proving that both import.
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
await import('baileys');
require('libsignal');
const version = (name) => require(`${name}/package.json`).version;
console.log(JSON.stringify({ baileys: version('baileys'), libsignal: version('libsignal') }));
