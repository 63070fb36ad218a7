// The paced response body (issue 26, "audit-export enqueues rows without
// backpressure"): the producer never runs more than the queue's room ahead of
// a slow reader, and a reader that leaves stops it.
import assert from "node:assert/strict";
import {
  pacedStream,
  ReaderGone,
} from "../../supabase/functions/_shared/paced_stream.ts";

const chunk = new Uint8Array([1]);

Deno.test("a slow reader holds the producer to the queue's room", async () => {
  let written = 0;
  const stream = pacedStream(async (out) => {
    for (let i = 0; i < 200; i++) {
      await out.write(chunk);
      written++;
    }
  }, { highWaterMark: 4 });
  const reader = stream.getReader();
  let read = 0;
  while (true) {
    await new Promise((r) => setTimeout(r, 1));
    const { done } = await reader.read();
    if (done) break;
    read++;
    // Unpaced, the producer would have written all 200 before the first read.
    assert.ok(written - read <= 5, `producer ${written - read} chunks ahead`);
  }
  assert.equal(read, 200);
});

Deno.test("a reader that cancels ends the producer with ReaderGone", async () => {
  let ended: unknown = null;
  const stream = pacedStream(async (out) => {
    try {
      for (let i = 0; i < 1000; i++) await out.write(chunk);
    } catch (err) {
      ended = err;
      throw err;
    }
  }, { highWaterMark: 2 });
  const reader = stream.getReader();
  await reader.read();
  await reader.cancel();
  await new Promise((r) => setTimeout(r, 10));
  assert.ok(ended instanceof ReaderGone);
});
