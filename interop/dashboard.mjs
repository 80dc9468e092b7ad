// Drives the dashboard of a running `wasap serve --demo` in headless Chromium (playwright-core
// with the system's chromium): sign in, add a device, see its QR code, watch the demo phone
// scan it and the status turn online without a reload, send a text to a demo contact and see
// it delivered and its echo in the log, then visit every page. Saves a screenshot of each
// page (desktop and phone width) and prints one JSON line describing what it saw.
//
//   node dashboard.mjs <base-url> <admin-key> <screenshot-dir>
//   CHROMIUM=/path/to/chromium overrides /usr/bin/chromium.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";

const [base, adminKey, shots] = process.argv.slice(2);
if (!base || !adminKey || !shots) {
  console.error("usage: node dashboard.mjs <base-url> <admin-key> <screenshot-dir>");
  process.exit(2);
}
mkdirSync(shots, { recursive: true });

const report = { screenshots: [], problems: [] };

// A webhook receiver that answers 200 and remembers the event id of every delivery.
const received = [];
const receiver = createServer((req, res) => {
  let body = "";
  req.on("data", (c) => { body += c; });
  req.on("end", () => {
    try { received.push(JSON.parse(body).id); } catch (_) { received.push(null); }
    res.writeHead(200, { "content-type": "text/plain" });
    res.end("ok");
  });
});
await new Promise((resolve) => receiver.listen(0, "127.0.0.1", resolve));
const hookUrl = `http://127.0.0.1:${receiver.address().port}/hook`;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  // Root in a container has no user namespaces for Chromium's sandbox.
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
const page = await context.newPage();
// CSP violations and script errors show up here: the dashboard must have none.
// (The refused sign-in answers 401 on purpose; Chromium logs that document as an error.)
let refusalExpected = false;
page.on("console", (m) => {
  if (m.type() !== "error") return;
  if (refusalExpected && m.text().includes("status of 401")) return;
  report.problems.push(`console: ${m.text()}`);
});
page.on("pageerror", (e) => report.problems.push(`page error: ${e.message}`));

async function shot(name) {
  const path = join(shots, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  report.screenshots.push(path);
}

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}

try {
  // Without a session every page leads to the login form.
  await page.goto(`${base}/`);
  check(page.url().endsWith("/dashboard/login"), `/ leads to the login form (at ${page.url()})`);
  await shot("01-login");

  refusalExpected = true;
  await page.fill("input[name=key]", "wsk_not_a_real_key_at_all_000000000000000000");
  await page.click("button[type=submit]");
  check((await page.textContent(".flash.err")).includes("not valid"), "a wrong key is refused");
  refusalExpected = false;

  await page.fill("input[name=key]", adminKey);
  await page.click("button[type=submit]");
  await page.waitForURL(/\/dashboard$/);
  check((await page.textContent("h1")).trim() === "Overview", "signed in to the overview");
  report.api_url = (await page.textContent("[data-api-url]")).trim();

  // A device: created, token shown once, QR code shown.
  await page.goto(`${base}/dashboard/devices`);
  await page.fill("input[name=name]", "Front desk");
  await page.click("form[action='/dashboard/devices'] button[type=submit]");
  await page.waitForSelector("[data-secret]");
  report.device_token_prefix = (await page.textContent("[data-secret]")).trim().slice(0, 4);
  const deviceId = await page.getAttribute("#link-panel", "data-device-id");
  check(!!deviceId, "the device page names its device");
  check(page.url().endsWith(`/dashboard/devices/${deviceId}`), `the address bar shows the device page (${page.url()})`);
  // The page must not be reloaded from here on: this marker would vanish.
  await page.evaluate(() => { window.__notReloaded = true; });

  const qrShownAt = Date.now();
  await page.waitForFunction(() => {
    const img = document.getElementById("qr");
    return img && !img.hidden && img.complete && img.naturalWidth > 100 && img.src.includes("/qr.svg");
  }, null, { timeout: 30000 });
  report.qr_seen = true;
  report.qr_src = await page.getAttribute("#qr", "src");
  await shot("02-device-qr");

  // The demo phone scans the code; the page turns online by itself.
  await page.waitForFunction((id) => {
    const badge = document.querySelector(`#link-panel ~ * [data-device-status="${id}"], [data-device-status="${id}"]`);
    return badge && badge.textContent.trim() === "Online";
  }, deviceId, { timeout: 45000 });
  report.online_after_ms = Date.now() - qrShownAt;
  report.online_without_reload = await page.evaluate(() => window.__notReloaded === true);
  check(await page.isHidden("#link-panel"), "the QR panel is gone once linked");
  check(await page.isVisible("#linked-panel"), "the linked panel is shown");
  report.linked_phone = (await page.textContent("#linked-panel [data-device-phone]")).trim();
  await shot("03-device-online");

  // A test message to a demo contact: delivered, and its echo in the log.
  const text = `dashboard test ${Date.now()}`;
  await page.goto(`${base}/dashboard/messages`);
  await page.selectOption("select[name=device_id]", deviceId);
  await page.fill("input[name=to]", "6281100000001");
  await page.fill("textarea[name=text]", text);
  await page.click("form[action='/dashboard/messages'] button[type=submit]");
  await page.waitForSelector(".flash.ok");
  // The log follows the message by itself while it is on its way.
  await page.waitForFunction((t) => [...document.querySelectorAll("tr[data-direction=out]")]
    .some((tr) => tr.querySelector("td.content").textContent === t
      && ["delivered", "read"].includes(tr.getAttribute("data-status"))), text, { timeout: 30000 });
  report.log_updated_without_reload = true;
  const deadline = Date.now() + 30000;
  let out = null, echo = null;
  while (Date.now() < deadline) {
    await page.goto(`${base}/dashboard/messages?device_id=${deviceId}`);
    const rows = await page.$$eval("tr[data-message-id]", (trs) => trs.map((tr) => ({
      direction: tr.getAttribute("data-direction"),
      status: tr.getAttribute("data-status"),
      text: tr.querySelector("td.content").textContent,
      chat: tr.querySelector("td[data-label=Chat]").textContent.trim(),
    })));
    out = rows.find((r) => r.direction === "out" && r.text === text) || null;
    echo = rows.find((r) => r.direction === "in" && r.text === text) || null;
    if (out && ["delivered", "read"].includes(out.status) && echo) break;
    await page.waitForTimeout(500);
  }
  report.sent_status = out && out.status;
  report.echo = echo;
  check(out && ["delivered", "read"].includes(out.status), `the message was delivered (${JSON.stringify(out)})`);
  check(echo && echo.chat === "6281100000001", `the echo is in the log (${JSON.stringify(echo)})`);
  await shot("04-messages");

  // Contacts: one by hand, two from CSV; a group with them.
  await page.goto(`${base}/dashboard/contacts`);
  await page.fill("form[action='/dashboard/contacts'] input[name=name]", "Ani <b>Rahma</b>");
  await page.fill("form[action='/dashboard/contacts'] input[name=phone]", "628111111111");
  await page.click("form[action='/dashboard/contacts'] button[type=submit]");
  await page.waitForSelector(".flash.ok");
  await page.fill("textarea[name=csv]", "name,phone\nBudi,628122222222\n\"Siti, Bu\",628133333333\n");
  await page.click("form[action='/dashboard/contacts/import'] button[type=submit]");
  report.import_notice = (await page.textContent(".flash")).trim();
  check(report.import_notice.startsWith("Imported 2 contacts"), `CSV import (${report.import_notice})`);
  report.contacts_listed = await page.$$eval("table tbody tr", (trs) => trs.length);
  // The hostile-looking name is shown as text, never as markup.
  check(await page.$("td b") === null, "contact names are escaped");
  await shot("05-contacts");

  await page.goto(`${base}/dashboard/groups`);
  await page.fill("form[action='/dashboard/groups'] input[name=name]", "Customers");
  await page.click("form[action='/dashboard/groups'] button[type=submit]");
  await page.waitForSelector(".flash.ok");
  await page.click("table a:has-text('Customers')");
  await page.check("input[name=contact_id] >> nth=0");
  await page.check("input[name=contact_id] >> nth=1");
  await page.click("form.grid-form button[type=submit]");
  await page.waitForSelector(".flash.ok");
  report.group_members = (await page.textContent("td[data-label=Members]")).trim();
  await shot("06-groups");

  // The device's WhatsApp groups: one made through the API shows on the device page.
  const made = await fetch(`${base}/v1/devices/${deviceId}/groups`, {
    method: "POST",
    headers: { "authorization": `Bearer ${adminKey}`, "content-type": "application/json" },
    body: JSON.stringify({ subject: "Pelanggan <VIP>", participants: ["6281100000003"] }),
  });
  check(made.status === 201, `group created through the API (${made.status})`);
  const groupJid = (await made.json()).jid;
  await page.goto(`${base}/dashboard/devices/${deviceId}`);
  report.wa_groups = await page.$$eval("td[data-label=Name]", (tds) => tds.map((td) => td.textContent));
  report.wa_group_listed = (await page.$$eval("td[data-label=Id] code", (cs) => cs.map((c) => c.textContent))).includes(groupJid);

  // A webhook for the device, from its page; an event reaches it; the delivery log shows it
  // and its Redeliver button sends it again.
  await page.goto(`${base}/dashboard/devices/${deviceId}`);
  await page.fill("input[name=url]", hookUrl);
  await page.click(`form[action='/dashboard/devices/${deviceId}/webhook'] button[type=submit]`);
  await page.waitForSelector("[data-secret]");
  await page.goto(`${base}/dashboard`);
  await page.selectOption("select[name=device_id]", deviceId);
  await page.fill("input[name=to]", "6281100000002");
  await page.fill("textarea[name=text]", "for the webhook");
  await page.click("form[action='/dashboard/messages'] button[type=submit]");
  await page.waitForSelector(".flash.ok");
  await page.goto(`${base}/dashboard/webhooks`);
  await shot("07-webhooks");

  await page.click("table a.button");
  await page.waitForSelector("h1");
  const hookPage = page.url();
  const until = Date.now() + 30000;
  while (Date.now() < until && !(await page.$("tr:has(.badge.s-delivered) button"))) {
    await page.waitForTimeout(500);
    await page.goto(hookPage);
  }
  const row = await page.$("tr:has(.badge.s-delivered)");
  check(row, "a delivered row in the delivery log");
  const eventId = (await row.$eval("td[data-label=Event] code", (c) => c.textContent)).trim();
  const before = received.filter((id) => id === eventId).length;
  await shot("08-webhook-deliveries");
  await row.$eval("button", (b) => b.click());
  await page.waitForSelector(".flash.ok");
  report.redeliver_notice = (await page.textContent(".flash.ok")).trim();
  const again = Date.now() + 15000;
  while (Date.now() < again && received.filter((id) => id === eventId).length <= before) {
    await page.waitForTimeout(200);
  }
  report.redelivered = received.filter((id) => id === eventId).length > before;
  report.webhook_deliveries = received.length;

  await page.goto(`${base}/dashboard/keys`);
  report.keys_listed = await page.$$eval("table tbody tr", (trs) => trs.length);
  await shot("09-keys");

  await page.goto(`${base}/dashboard`);
  report.overview = {
    devices: (await page.textContent("[data-stat=devices]")).trim(),
    connected: (await page.textContent("[data-stat=connected]")).trim(),
    sent: (await page.textContent("[data-stat=sent]")).trim(),
  };
  await shot("10-overview");

  // Phone width.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${base}/dashboard`);
  report.phone_overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
  await shot("11-phone-overview");
  await page.goto(`${base}/dashboard/devices/${deviceId}`);
  await shot("12-phone-device");
  await page.goto(`${base}/dashboard/messages?device_id=${deviceId}`);
  await shot("13-phone-messages");

  // Signing out ends the session.
  await page.click("header form.who button");
  await page.waitForURL(/\/dashboard\/login$/);
  await page.goto(`${base}/dashboard/devices`);
  report.after_logout = new URL(page.url()).pathname;
  report.ok = report.problems.length === 0;
} catch (e) {
  report.ok = false;
  report.error = String(e && e.stack || e);
  try { await shot("zz-failure"); } catch (_) { /* the page may be gone */ }
} finally {
  await browser.close();
  receiver.close();
}
console.log(JSON.stringify(report));
process.exit(report.ok ? 0 : 1);
