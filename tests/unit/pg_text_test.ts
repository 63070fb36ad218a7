import assert from "node:assert/strict";
import {
  mayHoldUnstorableText,
  storableString,
  toStorableJson,
} from "../../supabase/functions/_shared/pg_text.ts";

Deno.test("NUL and unpaired surrogates become U+FFFD; pairs stay", () => {
  assert.equal(storableString("a\u0000b\u0000"), "a\uFFFDb\uFFFD");
  assert.equal(storableString("cut \ud83d"), "cut \uFFFD");
  assert.equal(storableString("\ude00 low first"), "\uFFFD low first");
  assert.equal(storableString("whole \ud83d\ude00"), "whole \ud83d\ude00");
  assert.equal(storableString("plain"), "plain");
});

Deno.test("every string and key of a JSON value is repaired", () => {
  const value = JSON.parse(
    '{"k\\u0000":["x\\ud800",{"deep":"\\u0000"}],"n":1,"b":true,"z":null,"ok":"\\ud83d\\ude00"}',
  );
  assert.deepEqual(toStorableJson(value), {
    "k\uFFFD": ["x\uFFFD", { deep: "\uFFFD" }],
    n: 1,
    b: true,
    z: null,
    ok: "\ud83d\ude00",
  });
});

Deno.test("only JSON text with a NUL or surrogate escape needs the walk", () => {
  assert.equal(mayHoldUnstorableText('{"a":"\\u0000"}'), true);
  assert.equal(mayHoldUnstorableText('{"a":"\\uD83D"}'), true);
  assert.equal(mayHoldUnstorableText('{"a":"\\udc00"}'), true);
  assert.equal(mayHoldUnstorableText('{"a":"\\u00e9 \\u2603 plain"}'), false);
  assert.equal(mayHoldUnstorableText('{"a":"😀 raw, not escaped"}'), false);
});
