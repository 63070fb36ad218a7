// Runs calls through the official RudderStack Node SDK, under Node: the SDK's
// optional persistence queue pulls platform binaries Deno's npm resolution
// cannot lock here, and the SDK is a Node library anyway. Tests spawn it with
// RUDDER_DATA_PLANE_URL and RUDDER_WRITE_KEY set and write a JSON array of
// [method, message] pairs to its stdin; it flushes and prints
// {"errors": [...]} on stdout, exiting 1 if the SDK reported any.
import Analytics from "@rudderstack/rudder-sdk-node";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const calls = JSON.parse(Buffer.concat(chunks).toString("utf8"));

const errors = [];
const client = new Analytics(process.env.RUDDER_WRITE_KEY, {
  dataPlaneUrl: process.env.RUDDER_DATA_PLANE_URL,
  flushAt: 100,
  flushInterval: 60_000,
  retryCount: 0,
  logLevel: "error",
  errorHandler: (err) =>
    errors.push(String(err?.response?.status ?? err?.message ?? err)),
});
for (const [method, message] of calls) {
  // Dates cross the pipe as strings; the SDK expects Date objects.
  if (message.timestamp) message.timestamp = new Date(message.timestamp);
  client[method](message);
}
await client.flush();
process.stdout.write(JSON.stringify({ errors }));
process.exitCode = errors.length ? 1 : 0;
