// Row-level security through the whole stack: supabase-js -> gateway -> PostgREST
// -> Postgres, with tokens minted the way Supabase Auth mints them.
import assert from "node:assert/strict";
import { adminSql, client, createUser } from "../support/stack.ts";

Deno.test("saved views are private to their owner through supabase-js", async (t) => {
  const sql = adminSql();
  try {
    const alice = await createUser(sql, "alice");
    const bob = await createUser(sql, "bob");
    await sql`
      insert into public.saved_views (owner_id, name, definition) values
        (${alice.id}, 'alice view', '{"channel": "email"}'),
        (${bob.id}, 'bob view', '{"channel": "social"}')`;

    await t.step("a user reads their own row and not another's", async () => {
      const { data, error } = await client(alice.token)
        .from("saved_views").select("name, owner_id");
      assert.deepEqual(error, null);
      assert.deepEqual(data, [{ name: "alice view", owner_id: alice.id }]);
    });

    await t.step(
      "filtering for another user's row returns nothing",
      async () => {
        const { data, error } = await client(alice.token)
          .from("saved_views").select("id").eq("owner_id", bob.id);
        assert.deepEqual(error, null);
        assert.deepEqual(data, []);
      },
    );

    await t.step("a user cannot insert a row owned by another", async () => {
      const { error } = await client(alice.token)
        .from("saved_views").insert({ owner_id: bob.id, name: "planted" });
      assert.deepEqual(error?.code, "42501");
      const [{ count }] = await sql`
        select count(*)::int as count from public.saved_views
        where owner_id = ${bob.id}`;
      assert.deepEqual(count, 1);
    });

    await t.step("a user cannot delete another's row", async () => {
      const { data } = await client(alice.token)
        .from("saved_views").delete().eq("owner_id", bob.id).select();
      assert.deepEqual(data, []);
      const rows = await sql`
        select 1 from public.saved_views where owner_id = ${bob.id}`;
      assert.deepEqual(rows.length, 1);
    });

    await t.step("the anon key sees nothing", async () => {
      const { data, error } = await client().from("saved_views").select("*");
      assert.deepEqual(data, null);
      assert.deepEqual(error?.code, "42501");
    });

    await t.step("rpc save_view acts as the caller", async () => {
      const { data, error } = await client(bob.token)
        .rpc("save_view", { p_name: "from rpc", p_definition: { a: 1 } });
      assert.deepEqual(error, null);
      assert.ok(data, "save_view returned the row");
      assert.deepEqual(data.owner_id, bob.id);
      const { data: mine } = await client(bob.token)
        .from("saved_views").select("name").order("name");
      assert.deepEqual(mine?.map((r) => r.name), ["bob view", "from rpc"]);
    });

    await t.step(
      "rpc validation errors reach the client with their SQLSTATE",
      async () => {
        const { error } = await client(bob.token)
          .rpc("save_view", { p_name: "" });
        assert.deepEqual(error?.code, "22023");
        assert.deepEqual(error?.message, "name must be 1 to 120 characters");
      },
    );

    await t.step("a token signed with another secret is refused", async () => {
      const { mintUserToken } = await import("../../dev/jwt.mjs");
      const forged = await mintUserToken({ sub: bob.id }, {
        alg: "HS256",
        secret: "not-the-project-secret-but-long-enough-to-sign",
      });
      const { data, error } = await client(forged)
        .from("saved_views").select("*");
      assert.deepEqual(data, null);
      assert.deepEqual(error?.code, "PGRST301");
    });
  } finally {
    await sql.end();
  }
});
