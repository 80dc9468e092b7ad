// JSON-lines peer: one Baileys client (makeWASocket) connected to a wa-sandbox. Every request
// line gets exactly one answer line; events (QR codes, connection changes, messages) are
// buffered here and fetched with "next_event".
//   {"op":"start","ws_url","root","dir"}            -> {"ok":true}: root = sandbox root key (hex),
//      patched into WA_CERT_DETAILS.PUBLIC_KEY; dir = auth state directory (created if needed)
//   {"op":"next_event","kind","timeout_ms","match"?} -> the first buffered event of that kind
//      (consumed; for "message", match = text and from_me = fromMe to wait for), or
//      {"error":"timeout"}
//   {"op":"pair_code","number"}                      -> {"code"}: phone-number pairing
//   {"op":"send","to","text"}                       -> {"id"}
//   {"op":"group_create","subject","participants"}  -> {"jid"}
//   {"op":"group_metadata","jid"}                    -> {"participants":[…],"subject"}
//   {"op":"me"}                                      -> {"id","lid"}
//   {"op":"stop"}                                    -> {"ok":true}
// Kinds of events: "qr" {qr}, "open" {}, "close" {code}, "message" {id,from,participant,fromMe,text}.
// The socket reconnects by itself after any close except a logout (401) or a takeover (440).
// Set SANDBOX_PEER_LOG=debug to see Baileys' log on stderr.
import { createInterface } from 'node:readline';
import { mkdirSync } from 'node:fs';
import makeWASocket, { useMultiFileAuthState, WA_CERT_DETAILS, DisconnectReason, Browsers } from 'baileys';
import pino from 'pino';

const level = process.env.SANDBOX_PEER_LOG;
// stdout carries the JSON answers only: libsignal logs with console.log ("Closing session").
console.log = console.info = console.warn = console.debug = (...args) => {
  if (level) console.error(...args);
};
const logger = level ? pino({ level }, pino.destination(2)) : pino({ level: 'silent' });

const events = [];
let waiters = [];
let sock;
let config;
let auth;
const sent = new Map();

const push = (event) => {
  events.push(event);
  const ready = waiters;
  waiters = [];
  for (const wake of ready) wake();
};

const textOf = (message) =>
  message?.conversation ?? message?.extendedTextMessage?.text ?? undefined;

const connect = () => {
  sock = makeWASocket({
    waWebSocketUrl: config.ws_url,
    auth: auth.state,
    logger,
    browser: Browsers.ubuntu('Chrome'),
    markOnlineOnConnect: false,
    syncFullHistory: false,
    fireInitQueries: true,
    // Sandbox phones send no history sync; without this Baileys buffers every event for
    // 20 s after its first login, waiting for one.
    shouldSyncHistoryMessage: () => false,
    getMessage: async (key) => sent.get(key.id),
  });
  sock.ev.on('creds.update', auth.saveCreds);
  sock.ev.on('connection.update', (update) => {
    if (update.qr) push({ kind: 'qr', qr: update.qr });
    if (update.connection === 'open') push({ kind: 'open' });
    if (update.connection === 'close') {
      const code = update.lastDisconnect?.error?.output?.statusCode;
      push({ kind: 'close', code });
      // Baileys leaves reconnecting to the application: reconnect like a typical bot does
      // (515 after pairing, dropped connections, 503), except after a logout or a takeover.
      const final = code === DisconnectReason.loggedOut || code === DisconnectReason.connectionReplaced;
      if (!config.stopped && !final) setTimeout(connect, code === DisconnectReason.restartRequired ? 0 : 200);
    }
  });
  sock.ev.on('messages.upsert', ({ messages }) => {
    for (const m of messages) {
      push({
        kind: 'message',
        id: m.key.id,
        from: m.key.remoteJid,
        participant: m.key.participant ?? null,
        fromMe: !!m.key.fromMe,
        text: textOf(m.message) ?? null,
      });
    }
  });
};

const nextEvent = async ({ kind, timeout_ms = 20000, match, from_me }) => {
  const deadline = Date.now() + timeout_ms;
  for (;;) {
    const i = events.findIndex((e) => e.kind === kind
      && (match === undefined || e.text === match)
      && (from_me === undefined || e.fromMe === from_me));
    if (i >= 0) return events.splice(i, 1)[0];
    const left = deadline - Date.now();
    if (left <= 0) return { error: 'timeout', pending: events.map((e) => e.kind) };
    await new Promise((resolve) => {
      const timer = setTimeout(resolve, left);
      waiters.push(() => { clearTimeout(timer); resolve(); });
    });
  }
};

const ops = {
  async start({ ws_url, root, dir }) {
    WA_CERT_DETAILS.PUBLIC_KEY = Buffer.from(root, 'hex');
    mkdirSync(dir, { recursive: true });
    config = { ws_url, stopped: false };
    auth = await useMultiFileAuthState(dir);
    connect();
    return { ok: true };
  },
  next_event: nextEvent,
  async pair_code({ number }) {
    return { code: await sock.requestPairingCode(number) };
  },
  async send({ to, text }) {
    const message = await sock.sendMessage(to, { text });
    sent.set(message.key.id, message.message);
    return { id: message.key.id };
  },
  async group_create({ subject, participants }) {
    const meta = await sock.groupCreate(subject, participants);
    return { jid: meta.id };
  },
  async group_metadata({ jid }) {
    const meta = await sock.groupMetadata(jid);
    return { subject: meta.subject, participants: meta.participants.map((p) => p.id) };
  },
  async me() {
    return { id: sock.user?.id ?? null, lid: sock.user?.lid ?? null };
  },
  async stop() {
    config.stopped = true;
    sock.end(undefined);
    return { ok: true };
  },
};

const rl = createInterface({ input: process.stdin });
for await (const line of rl) {
  let answer;
  try {
    const request = JSON.parse(line);
    const op = ops[request.op];
    answer = op ? await op(request) : { error: `unknown op ${request.op}` };
  } catch (e) {
    answer = { error: String(e?.stack ?? e) };
  }
  process.stdout.write(JSON.stringify(answer) + '\n');
}
process.exit(0);
