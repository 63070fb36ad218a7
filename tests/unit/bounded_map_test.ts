import assert from "node:assert/strict";
import { remember } from "../../supabase/functions/_shared/bounded_map.ts";

Deno.test("a full map drops its oldest entry, not a key being updated", () => {
  const map = new Map<string, number>();
  remember(map, "a", 1, 2);
  remember(map, "b", 2, 2);
  assert.equal(remember(map, "b", 3, 2), 3);
  assert.deepEqual([...map], [["a", 1], ["b", 3]]);
  remember(map, "c", 4, 2);
  assert.deepEqual([...map], [["b", 3], ["c", 4]]);
});
