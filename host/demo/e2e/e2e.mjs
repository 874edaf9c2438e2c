// End-to-end browser test of the quickstart's demo shop: starts `paymux quickstart` on free
// ports, drives Debian's headless chromium through a payment and refunds in Hong Kong (AlipayHK)
// and Singapore (Alipay), checks statuses and the events panel, saves screenshots, then stops
// the quickstart with SIGINT. Run by `make e2e` (after ./install.sh).
//
// Environment: PAYMUX_BIN (default <repo>/bin), PAYMUX_E2E_ARTIFACTS (default
// <repo>/.paymux/e2e-artifacts), PAYMUX_E2E_QUICKSTART_ARGS (extra quickstart flags).
import { spawn } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../../..");
const bin = process.env.PAYMUX_BIN || path.join(root, "bin");
const artifacts = process.env.PAYMUX_E2E_ARTIFACTS || path.join(root, ".paymux", "e2e-artifacts");
const started = Date.now();
const STEP = 30_000; // bound of any single wait

function log(msg) { console.log(`e2e ${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s ${msg}`); }

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

function assert(cond, msg) { if (!cond) throw new Error("assertion failed: " + msg); }

// startQuickstart runs bin/paymux quickstart and resolves once its banner is printed.
async function startQuickstart() {
  const [api, sim, shop] = [await freePort(), await freePort(), await freePort()];
  const dir = path.join(root, ".paymux", "e2e");
  rmSync(dir, { recursive: true, force: true });
  const args = ["quickstart", "-dir", dir, "-listen", `127.0.0.1:${api}`, "-sim-listen", `127.0.0.1:${sim}`,
    "-demo-listen", `127.0.0.1:${shop}`];
  if (process.env.PAYMUX_E2E_QUICKSTART_ARGS) args.push(...process.env.PAYMUX_E2E_QUICKSTART_ARGS.split(/\s+/).filter(Boolean));
  const env = { ...process.env, PAYMUX_API_KEY: "", PAYMUX_WEBHOOK_SECRET: "" };
  const child = spawn(path.join(bin, "paymux"), args, { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "", err = "";
  child.stderr.on("data", d => { err += d; });
  const exited = new Promise(resolve => child.on("exit", (code, signal) => resolve({ code, signal })));
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("quickstart printed no banner within 90 s\n" + out + "\n" + err)), 90_000);
    child.stdout.on("data", d => {
      out += d;
      if (/^\s*curl .*$/m.test(out)) { clearTimeout(timer); resolve(); }
    });
    exited.then(s => { clearTimeout(timer); reject(new Error(`quickstart exited (${JSON.stringify(s)}) before its banner\n${out}\n${err}`)); });
  });
  const demo = out.match(/demo shop\s+(http:\/\/\S+?)\/?$/m)[1];
  return { child, exited, demo, stdout: () => out, stderr: () => err };
}

async function shot(page, name) {
  const file = path.join(artifacts, name + ".png");
  await page.screenshot({ path: file, fullPage: true });
  log("screenshot " + path.relative(root, file));
}

// payAndRefund runs one checkout in region with method, then a partial and a full refund.
async function payAndRefund(page, demo, { region, currency, method, expectMethods, amount, partial, desktop = false }) {
  const tag = region.toLowerCase() + (desktop ? "-desktop" : "");
  await page.goto(`${demo}/?region=${region}`);
  await page.waitForSelector("body[data-ready=true]", { timeout: STEP });
  await page.selectOption("#currency", currency);
  await page.waitForSelector(`#pay-${method}`, { timeout: STEP });
  const shown = await page.$$eval("button.method", els => els.map(e => e.dataset.method));
  assert(JSON.stringify(shown) === JSON.stringify(expectMethods), `${region} methods ${JSON.stringify(shown)}, want ${JSON.stringify(expectMethods)}`);
  log(`${region}: methods in config order ${shown.join(", ")}`);
  await page.fill("#amount", amount);
  await shot(page, `${tag}-1-checkout`);
  await page.click(desktop ? `#pay-desktop-${method}` : `#pay-${method}`);

  // h5 methods go to the simulator's cashier (desktop: its desktop cashier), Antom wallets to
  // the wallet's page (the app link, no app installed), app-only ones (AlipayHK) to the wallet
  // app stand-in.
  await page.waitForURL(u => /\/cashier\/|\/app\?|\/antom\/wallet\//.test(u.href), { timeout: STEP });
  if (page.url().includes("/antom/wallet/")) {
    const amountText = await page.textContent("#amount");
    assert(amountText.includes(amount) && amountText.includes(currency), `wallet page amount ${amountText}`);
    await shot(page, `${tag}-2-antom-wallet`);
    await page.click("#pay");
  } else if (page.url().includes("/cashier/")) {
    if (desktop) assert((await page.textContent("#desktop")).includes("desktop"), "not the desktop cashier");
    const amountText = await page.textContent("#amount");
    assert(amountText.includes(amount) && amountText.includes(currency), `cashier amount ${amountText}`);
    await shot(page, `${tag}-2-cashier`);
    await page.click("button[value=pay]");
  } else {
    await shot(page, `${tag}-2-wallet-app`);
    await page.click("#pay");
  }
  await page.waitForURL(/\/result\//, { timeout: STEP });
  await page.waitForSelector("body[data-status=succeeded]", { timeout: STEP });
  await page.waitForSelector("tr[data-event='payment.succeeded'] td.ok", { timeout: STEP });
  const paymentID = await page.textContent("#payment-id");
  log(`${region}: payment ${paymentID} succeeded; payment.succeeded webhook verified`);
  await shot(page, `${tag}-3-paid`);

  // Partial refund, then the rest.
  await page.fill("#refund-amount", partial);
  await page.click("#refund");
  await page.waitForFunction(() => document.querySelectorAll("#refunds tr").length === 1 &&
    document.querySelector("#refunds tr .status").textContent === "succeeded", null, { timeout: STEP });
  await page.waitForSelector("#refund:not([disabled])", { timeout: STEP });
  await page.click("#refund");
  await page.waitForFunction(() => {
    const rows = [...document.querySelectorAll("#refunds tr .status")];
    return rows.length === 2 && rows.every(s => s.textContent === "succeeded");
  }, null, { timeout: STEP });
  await page.waitForFunction(() => document.querySelectorAll("tr[data-event='refund.succeeded'] td.ok").length === 2, null, { timeout: STEP });
  const refunded = await page.textContent("#refunded");
  assert(refunded === `${amount} ${currency}`, `${region} refunded ${refunded}, want ${amount} ${currency}`);
  const events = await page.$$eval("#events tr", rows => rows.map(r => [r.dataset.event, r.children[3].textContent]));
  const types = events.map(e => e[0]);
  for (const want of ["payment.created", "payment.succeeded", "refund.succeeded"]) assert(types.includes(want), `${region} events ${types} lack ${want}`);
  assert(events.every(e => e[1] === "signature verified"), `${region} unverified events: ${JSON.stringify(events)}`);
  assert(await page.isDisabled("#refund"), "refund button enabled after a full refund");
  log(`${region}: refunded ${partial} then the rest (${refunded}); ${events.length} events, all signature verified`);
  await shot(page, `${tag}-4-refunded`);
}

async function main() {
  mkdirSync(artifacts, { recursive: true });
  log("starting paymux quickstart");
  const qs = await startQuickstart();
  log("quickstart ready; demo shop at " + qs.demo);
  let browser;
  let failure = null;
  try {
    browser = await chromium.launch({
      executablePath: process.env.PAYMUX_E2E_CHROMIUM || "/usr/bin/chromium",
      headless: true,
      timeout: STEP,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    const context = await browser.newContext({ viewport: { width: 900, height: 900 } });
    const page = await context.newPage();
    page.setDefaultTimeout(STEP);
    page.on("pageerror", e => { failure = failure || new Error("page error: " + e.message); });
    await payAndRefund(page, qs.demo, { region: "HK", currency: "HKD", method: "alipayhk", expectMethods: ["alipayhk", "alipay"], amount: "88.00", partial: "8.00" });
    await payAndRefund(page, qs.demo, { region: "SG", currency: "SGD", method: "alipay", expectMethods: ["alipay"], amount: "12.30", partial: "2.30" });
    await payAndRefund(page, qs.demo, { region: "PH", currency: "PHP", method: "gcash", expectMethods: ["gcash"], amount: "1250.00", partial: "250.00" });
    await payAndRefund(page, qs.demo, { region: "SG", currency: "USD", method: "alipay", expectMethods: ["alipay"], amount: "42.00", partial: "12.00", desktop: true });
    if (failure) throw failure;
  } catch (e) {
    failure = e;
    if (browser) {
      for (const ctx of browser.contexts()) for (const p of ctx.pages()) await p.screenshot({ path: path.join(artifacts, "failure.png"), fullPage: true }).catch(() => {});
    }
  } finally {
    if (browser) await browser.close().catch(() => {});
    qs.child.kill("SIGINT");
    const timer = setTimeout(() => qs.child.kill("SIGKILL"), 30_000);
    const { code, signal } = await qs.exited;
    clearTimeout(timer);
    if (!failure && code !== 0) failure = new Error(`quickstart exited ${code ?? signal} after SIGINT\n${qs.stderr()}`);
    if (failure) console.error("quickstart stderr (last 4000 chars):\n" + qs.stderr().slice(-4000));
  }
  if (failure) throw failure;
  log("passed; screenshots in " + path.relative(root, artifacts));
}

main().catch(e => { console.error("e2e FAILED:", e.stack || e); process.exit(1); });
