// API keys end to end: create one through supabase-js, call a function with it,
// rotate and revoke it; export the audit trail of all that as CSV and JSON
// Lines; tamper with a row as superuser and see the chain point at it.
import assert from "node:assert/strict";
import { adminSql, client, createUser, stack } from "../support/stack.ts";

function exportUrl(params: Record<string, string>): string {
  const q = new URLSearchParams({
    from: new Date(Date.now() - 3600_000).toISOString(),
    to: new Date(Date.now() + 3600_000).toISOString(),
    ...params,
  });
  return `${stack().apiUrl}/functions/v1/audit-export?${q}`;
}

Deno.test("API keys, audit export and tamper evidence", async (t) => {
  const sql = adminSql();
  try {
    const owner = await createUser(sql, "keys-owner");
    const member = await createUser(sql, "keys-member");
    const slug = `keys-${crypto.randomUUID().slice(0, 8)}`;
    const { data: org } = await client(owner.token)
      .rpc("create_organization", { p_name: "Keyed", p_slug: slug });
    assert.ok(org);
    await sql`insert into public.organization_members (org_id, user_id, role)
              values (${org.id}, ${member.id}, 'member')`;

    const created = await client(owner.token).rpc("create_api_key", {
      p_org_id: org.id,
      p_name: "Auditor bot",
      p_scopes: ["audit:read"],
    });
    assert.equal(created.error, null);
    const key = created.data![0];
    assert.match(key.secret, /^mk_live_/);

    await t.step("listing never returns the secret or a hash", async () => {
      const { data, error } = await client(owner.token).from("api_keys").select(
        "*",
      )
        .eq("org_id", org.id);
      assert.equal(error, null);
      assert.equal(data!.length, 1);
      const text = JSON.stringify(data);
      assert.ok(!text.includes(key.secret));
      assert.ok(!Object.keys(data![0]).some((k) => k.includes("hash")));
    });

    await t.step(
      "the key calls a function (x-api-key and Bearer)",
      async () => {
        const both: Record<string, string>[] = [
          { "x-api-key": key.secret },
          { Authorization: `Bearer ${key.secret}` },
        ];
        for (const headers of both) {
          const res: Response = await fetch(exportUrl({ org_id: org.id }), {
            headers,
          });
          assert.equal(res.status, 200);
          assert.equal(res.headers.get("content-type"), "application/x-ndjson");
          const lines = (await res.text()).trim().split("\n").map((l: string) =>
            JSON.parse(l) as { seq: number }
          );
          assert.ok(lines.length >= 3);
          assert.deepEqual(
            lines.map((l) => l.seq),
            [...lines.map((l) => l.seq)].sort((a, b) => a - b),
          );
        }
      },
    );

    await t.step(
      "a key of one organization cannot export another's",
      async () => {
        const res = await fetch(exportUrl({ org_id: crypto.randomUUID() }), {
          headers: { "x-api-key": key.secret },
        });
        assert.equal(res.status, 403);
        assert.equal((await res.json()).error.details[0].field, "org_id");
      },
    );

    let rotatedSecret = "";
    await t.step(
      "rotation keeps the old key for its grace period",
      async () => {
        const { data, error } = await client(owner.token).rpc(
          "rotate_api_key",
          {
            p_org_id: org.id,
            p_key_id: key.id,
            p_grace: "1 hour",
          },
        );
        assert.equal(error, null);
        rotatedSecret = data![0].secret;
        for (const secret of [key.secret, rotatedSecret]) {
          const res: Response = await fetch(
            exportUrl({ org_id: org.id, limit: "1" }),
            {
              headers: { "x-api-key": secret },
            },
          );
          assert.equal(res.status, 200, secret.slice(0, 12));
          await res.body?.cancel();
        }
      },
    );

    await t.step("revocation is immediate", async () => {
      const { error } = await client(owner.token)
        .rpc("revoke_api_key", { p_org_id: org.id, p_key_id: key.id });
      assert.equal(error, null);
      const res = await fetch(exportUrl({ org_id: org.id }), {
        headers: { "x-api-key": key.secret },
      });
      assert.equal(res.status, 401);
      assert.equal((await res.json()).error.code, "invalid_api_key");
    });

    await t.step(
      "a member without audit:read is refused, and that is audited",
      async () => {
        const res = await fetch(exportUrl({ org_id: org.id }), {
          headers: { Authorization: `Bearer ${member.token}` },
        });
        assert.equal(res.status, 403);
        assert.equal(
          (await res.json()).error.message,
          "permission denied: audit:read",
        );
        const [row] = await sql`
        select actor_email, status from public.audit_log
        where org_id = ${org.id} and action = 'permission.denied'`;
        assert.deepEqual({ ...row }, {
          actor_email: member.email,
          status: "failure",
        });
      },
    );

    await t.step("bad parameters get a 400 naming each field", async () => {
      const res = await fetch(
        `${stack().apiUrl}/functions/v1/audit-export?org_id=nope&format=xml&limit=0`,
        { headers: { Authorization: `Bearer ${owner.token}` } },
      );
      assert.equal(res.status, 400);
      const fields = (await res.json()).error.details.map((
        d: { field: string },
      ) => d.field);
      for (const f of ["org_id", "from", "to", "format", "limit"]) {
        assert.ok(fields.includes(f), `${f} in ${fields}`);
      }
    });

    await t.step("CSV export of the whole story, with a row cap", async () => {
      const res = await fetch(exportUrl({ org_id: org.id, format: "csv" }), {
        headers: { Authorization: `Bearer ${owner.token}` },
      });
      assert.equal(res.status, 200);
      const csv = await res.text();
      const [header, ...rows] = csv.trim().split("\n");
      assert.ok(header.startsWith("seq,occurred_at,id,actor_type"));
      for (
        const action of [
          "organizations.insert",
          "api_keys.insert",
          "api_keys.update",
          "api_key.rejected",
          "audit_log.exported",
          "permission.denied",
        ]
      ) {
        assert.ok(rows.some((r) => r.includes(`,${action},`)), action);
      }
      const capped = await fetch(
        exportUrl({ org_id: org.id, format: "csv", limit: "2" }),
        {
          headers: { Authorization: `Bearer ${owner.token}` },
        },
      );
      assert.equal(capped.headers.get("x-row-cap"), "2");
      assert.equal((await capped.text()).trim().split("\n").length, 3);
    });

    await t.step(
      "tampering as superuser is pointed at by verify_audit_chain",
      async () => {
        const intact = await client(owner.token).rpc("verify_audit_chain", {
          p_org_id: org.id,
        });
        assert.equal(intact.data![0].ok, true);
        await sql.begin(async (tx) => {
          await tx`set local session_replication_role = replica`;
          await tx`update public.audit_log set actor_email = 'nobody@example.com'
                 where org_id = ${org.id} and seq = 2`;
        });
        const broken = await client(owner.token).rpc("verify_audit_chain", {
          p_org_id: org.id,
        });
        assert.equal(broken.data![0].ok, false);
        assert.equal(broken.data![0].broken_seq, 2);
      },
    );
  } finally {
    await sql.end();
  }
});
