// Opens one page in real, headless Chromium (Debian's, driven by
// playwright-core) and prints what the page's `window.done` promise resolves
// to, as JSON on the last line of stdout. Node, not Deno: Playwright is a Node
// library. Tests of browser SDKs run it as a child process:
//
//   node tests/support/browser_page.mjs <dir> <path?query>
//
// The page may call `delivered(pattern, count)`, defined before its scripts
// run: a promise that resolves once `count` responses to URLs matching the
// pattern have arrived, for SDKs that deliver in the background (queues,
// batches), so the browser does not close on a request in flight.
//
// <dir> holds the page (index.html) and any scripts it loads; they are served
// from a fresh loopback origin, so requests to the stack are cross-origin, as
// from a customer's site. Every request the page makes is logged to stderr.
import http from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize } from "node:path";
import { chromium } from "playwright-core";

const [dir, pagePath = "/"] = process.argv.slice(2);
if (!dir) {
  console.error("usage: browser_page.mjs <dir> [path?query]");
  process.exit(2);
}
const CHROMIUM = process.env.MERIDIAN_CHROMIUM ?? "/usr/bin/chromium";
const TYPES = { ".html": "text/html", ".js": "text/javascript" };

const server = http.createServer(async (req, res) => {
  const path = new URL(req.url ?? "/", "http://page").pathname;
  if (path === "/favicon.ico") {
    res.writeHead(204);
    return res.end();
  }
  const file = extname(path)
    ? normalize(path).replace(/^(\.\.[/\\])+/, "")
    : "/index.html";
  try {
    const body = await readFile(join(dir, file));
    res.writeHead(200, {
      "content-type": TYPES[extname(file)] ?? "application/octet-stream",
    });
    res.end(body);
  } catch {
    res.writeHead(404);
    res.end();
  }
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const origin = `http://127.0.0.1:${server.address().port}`;

// Root needs --no-sandbox (CI runs as root); nothing untrusted is loaded.
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ["--no-sandbox"],
});
try {
  const page = await browser.newPage();
  await page.addInitScript(() => {
    globalThis.delivered = (pattern, count) =>
      new Promise((resolve) => {
        const done = () =>
          performance.getEntriesByType("resource")
            .filter((e) => pattern.test(e.name)).length >= count;
        if (done()) return resolve();
        new PerformanceObserver(() => done() && resolve())
          .observe({ type: "resource", buffered: true });
      });
  });
  page.on("console", (m) => console.error(`console.${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => console.error(`page error: ${e.message}`));
  page.on(
    "response",
    (r) => console.error(`${r.request().method()} ${r.url()} -> ${r.status()}`),
  );
  page.on(
    "requestfailed",
    (r) =>
      console.error(
        `${r.method()} ${r.url()} failed: ${r.failure()?.errorText}`,
      ),
  );
  await page.goto(`${origin}${pagePath}`);
  let timer;
  const result = await Promise.race([
    page.evaluate(() => globalThis.done),
    new Promise((_, reject) => {
      timer = setTimeout(
        () => reject(new Error("window.done did not settle within 30 s")),
        30_000,
      );
    }),
  ]).finally(() => clearTimeout(timer));
  console.log(JSON.stringify({ origin, result }));
} finally {
  await browser.close();
  server.close();
}
