// Plays pg_cron + pg_net's part for webhook delivery on the local stack: calls
// the webhook-dispatch function every few seconds, and at once when
// private.emit_webhook_event NOTIFYs meridian_webhooks, so a local event is
// delivered in milliseconds rather than at the next tick. One call at a time;
// a notice during a call asks for one more after it.
// Run as `node dev/webhook_scheduler.mjs <stack.json>`.
import { readFileSync } from "node:fs";
import postgres from "postgres";

const INTERVAL_MS = Number(process.env.MERIDIAN_WEBHOOK_TICK_MS ?? 5000);

export function startWebhookScheduler(state, { log = console } = {}) {
  const url = `${state.apiUrl}/functions/v1/webhook-dispatch`;
  let running = false;
  let again = false;
  let stopped = false;

  async function dispatch() {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      do {
        again = false;
        const res = await fetch(url, {
          method: "POST",
          headers: { Authorization: `Bearer ${state.keys.serviceRoleKey}` },
          signal: AbortSignal.timeout(120_000),
        });
        const text = await res.text();
        if (!res.ok) {
          log.error(`webhook-dispatch answered ${res.status}: ${text}`);
        }
      } while (again && !stopped);
    } catch (err) {
      // The stack may be starting or stopping; the next tick tries again.
      log.error(`webhook-dispatch unreachable: ${err.message}`);
    } finally {
      running = false;
    }
  }

  const sql = postgres(state.dbUrl, { max: 1, onnotice: () => {} });
  const listening = sql.listen("meridian_webhooks", () => dispatch());
  const timer = setInterval(dispatch, INTERVAL_MS);
  return {
    ready: listening,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await sql.end({ timeout: 1 });
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const state = JSON.parse(readFileSync(process.argv[2], "utf8"));
  const scheduler = startWebhookScheduler(state);
  await scheduler.ready;
  console.log("webhook scheduler listening on meridian_webhooks");
  const shutdown = () => scheduler.stop().then(() => process.exit(0));
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);
}
