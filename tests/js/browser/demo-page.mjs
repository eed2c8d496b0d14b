// Helpers shared by the demo page's browser tests (demo.test.mjs,
// demo-sync.test.mjs).
import assert from "node:assert/strict";

/** How long a test waits for the page, in ms. */
export const WAIT = 15_000;

/**
 * A fresh context of `browser` whose pages fail the test (an entry in
 * `errors`) on any page error, console error, or request beyond the demo's
 * server at `serverUrl` (the page must work offline). Chromium reports each
 * request that fails on the console; failures of requests under
 * `cutUnder` (a device's sync requests, which the proxy cuts while it is
 * offline) are not errors.
 * @param {import("playwright-core").Browser} browser
 * @param {string} serverUrl
 * @param {string[]} errors
 * @param {string} [cutUnder]
 */
export async function freshContext(browser, serverUrl, errors, cutUnder) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  context.on("request", (r) => {
    if (!r.url().startsWith(serverUrl) && !r.url().startsWith("data:")) errors.push(`request beyond the server: ${r.url()}`);
  });
  context.on("page", (page) => {
    page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
    page.on("console", (m) => {
      if (m.type() !== "error") return;
      const where = m.location().url ?? "";
      const cut = cutUnder !== undefined && /^Failed to load resource: net::ERR_/.test(m.text()) && where.startsWith(cutUnder);
      if (!cut) errors.push(`console.error: ${m.text()} (${where})`);
    });
  });
  return context;
}

/** Waits until the element's text contains `want`; fails showing the text it had. */
export async function waitText(page, selector, want) {
  try {
    await page.waitForFunction(([s, w]) => document.querySelector(s)?.textContent.includes(w), [selector, want], { timeout: WAIT });
  } catch {
    const had = await page.locator(selector).first().textContent().catch(() => "(no such element)");
    assert.fail(`${selector} should contain ${JSON.stringify(want)}; it shows ${JSON.stringify(had)}`);
  }
}
