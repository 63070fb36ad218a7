// Batches of the ingest bench's workload as the ingest function hands them to
// private.ingest_batch, validated and enriched by the function's own code: for
// benchmarks that call the SQL function without HTTP. Prints one JSON array
// per line.
//   deno run --config deno.json bench/stored_batches.ts <batches> <seed>
import { BATCH, makeWorkload } from "./ingest.mjs";
import { validateMessage } from "../supabase/functions/ingest/validate.ts";
import { toStoredMessage } from "../supabase/functions/ingest/enrichment.ts";

const [batches, seed] = [Number(Deno.args[0]), Deno.args[1]];
if (!Number.isInteger(batches) || batches < 1 || !seed) {
  console.error("usage: stored_batches.ts <batches> <seed>");
  Deno.exit(2);
}
const next = makeWorkload(seed);
for (let b = 0; b < batches; b++) {
  const receivedAt = new Date();
  const batch = Array.from({ length: BATCH }, (_, i) => {
    const { message, rejected } = validateMessage(next(), i, {});
    if (rejected) throw new Error(JSON.stringify(rejected));
    return toStoredMessage(message as never, receivedAt, { requestIp: null });
  });
  console.log(JSON.stringify(batch));
}
