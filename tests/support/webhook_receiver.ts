// A customer's webhook receiver on loopback: records every request it gets,
// answers as the test tells it (a status, a delay, a dropped connection), and
// verifies signatures with the npm library `standardwebhooks`, an independent
// implementation of the spec, never Meridian's own signing code.
import { Webhook } from "standardwebhooks";

export type Received = {
  id: string;
  timestamp: string;
  signature: string;
  body: string;
  type: string;
  data: Record<string, unknown>;
  at: number;
};

export type Behaviour = (
  r: Received,
  count: number,
) => {
  status?: number;
  delayMs?: number;
  drop?: boolean;
  headers?: HeadersInit;
};

export type Receiver = {
  url: string;
  received: Received[];
  behave(b: Behaviour): void;
  /** Whether `secret` verifies a request as received. */
  verifies(r: Received, secret: string): boolean;
  close(): Promise<void>;
};

export function startReceiver(): Receiver {
  const received: Received[] = [];
  let behaviour: Behaviour = () => ({ status: 200 });
  const server = Deno.serve(
    {
      hostname: "127.0.0.1",
      port: 0,
      onListen() {},
      // A dropped response is the point of some tests: no log for it.
      onError: () => new Response(null, { status: 500 }),
    },
    async (req) => {
      const body = await req.text();
      const parsed = JSON.parse(body);
      const r: Received = {
        id: req.headers.get("webhook-id") ?? "",
        timestamp: req.headers.get("webhook-timestamp") ?? "",
        signature: req.headers.get("webhook-signature") ?? "",
        body,
        type: parsed.type,
        data: parsed.data,
        at: Date.now(),
      };
      received.push(r);
      const b = behaviour(r, received.length);
      if (b.delayMs) await new Promise((res) => setTimeout(res, b.delayMs));
      if (b.drop) {
        // Headers go out, then the connection breaks before the body ends.
        return new Response(
          new ReadableStream({ pull: (c) => c.error(new Error("dropped")) }),
          { status: 200 },
        );
      }
      const status = b.status ?? 200;
      const empty = status === 204 || status === 205 || status === 304;
      return new Response(empty ? null : "ok", { status, headers: b.headers });
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}/hooks`,
    received,
    behave(b) {
      behaviour = b;
    },
    verifies(r, secret) {
      try {
        new Webhook(secret).verify(r.body, {
          "webhook-id": r.id,
          "webhook-timestamp": r.timestamp,
          "webhook-signature": r.signature,
        });
        return true;
      } catch {
        // The library's answer for a signature that does not verify.
        return false;
      }
    },
    close: () => server.shutdown(),
  };
}
