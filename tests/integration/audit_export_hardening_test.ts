// audit-export against hostile callers (issue 26, items 6, 12 and 16): dates
// Postgres cannot cast are a 400 naming the parameter, before anything is
// recorded; strangers can neither spend an organization's limits nor write
// into its audit chain; a token minted for another audience is refused; and a
// CSV cell a caller wrote never runs as a spreadsheet formula.
import assert from "node:assert/strict";
import { signClaims } from "../../dev/jwt.mjs";
import { adminSql, client, createUser, stack } from "../support/stack.ts";

function exportUrl(params: Record<string, string>): string {
  const q = new URLSearchParams({
    from: new Date(Date.now() - 3600_000).toISOString(),
    to: new Date(Date.now() + 3600_000).toISOString(),
    ...params,
  });
  return `${stack().apiUrl}/functions/v1/audit-export?${q}`;
}

type ErrorReply = {
  error: { code: string; details: { field?: string; rule?: string }[] };
};

Deno.test("audit-export refuses bad dates, strangers and foreign audiences, and escapes CSV formulas", async (t) => {
  const sql = adminSql();
  try {
    const owner = await createUser(sql, "export-owner");
    const member = await createUser(sql, "export-member");
    const stranger = await createUser(sql, "export-stranger");
    const slug = `export-${crypto.randomUUID().slice(0, 8)}`;
    const { data: org } = await client(owner.token)
      .rpc("create_organization", { p_name: "Exported", p_slug: slug });
    assert.ok(org);
    await sql`insert into public.organization_members (org_id, user_id, role)
              values (${org.id}, ${member.id}, 'member')`;
    const chainLength = async () =>
      (await sql`select count(*)::int as n from public.audit_log
                 where org_id = ${org.id}`)[0].n as number;
    const asOwner = { Authorization: `Bearer ${owner.token}` };

    await t.step(
      "dates Postgres cannot cast are a 400 naming the parameter; nothing is recorded",
      async () => {
        const before = await chainLength();
        for (
          const [param, value] of [
            ["from", "0000-01-01T00:00:00Z"],
            ["to", "2026-01-01T00:00:00+23:59"],
            ["from", "2026-13-01T00:00:00Z"],
          ]
        ) {
          const res: Response = await fetch(
            exportUrl({ org_id: org.id, [param]: value }),
            { headers: asOwner },
          );
          assert.equal(res.status, 400, `${param}=${value}`);
          const body = await res.json() as ErrorReply;
          assert.ok(
            body.error.details.some((d) => d.field === param),
            JSON.stringify(body),
          );
        }
        assert.equal(await chainLength(), before);
      },
    );

    await t.step(
      "a stranger gets 403 and writes nothing into the chain",
      async () => {
        const before = await chainLength();
        const res = await fetch(exportUrl({ org_id: org.id }), {
          headers: {
            Authorization: `Bearer ${stranger.token}`,
            "user-agent": '=HYPERLINK("http://evil.example")',
          },
        });
        assert.equal(res.status, 403);
        await res.body?.cancel();
        assert.equal(await chainLength(), before);
      },
    );

    await t.step("a token minted for another audience is refused", async () => {
      const now = Math.floor(Date.now() / 1000);
      const foreign = await signClaims({
        sub: owner.id,
        aud: "some-other-service",
        role: "authenticated",
        iat: now,
        exp: now + 600,
      }, stack().keys.signer);
      const res = await fetch(exportUrl({ org_id: org.id }), {
        headers: { Authorization: `Bearer ${foreign}` },
      });
      assert.equal(res.status, 401);
      const body = await res.json() as ErrorReply;
      assert.equal(body.error.code, "invalid_token");
    });

    await t.step(
      "a member's denial is recorded, and its formula is escaped in CSV",
      async () => {
        const formula = '=HYPERLINK("http://evil.example","x")';
        const denied = await fetch(exportUrl({ org_id: org.id }), {
          headers: {
            Authorization: `Bearer ${member.token}`,
            "user-agent": formula,
          },
        });
        assert.equal(denied.status, 403);
        await denied.body?.cancel();
        const res = await fetch(exportUrl({ org_id: org.id, format: "csv" }), {
          headers: asOwner,
        });
        assert.equal(res.status, 200);
        const csv = await res.text();
        assert.ok(csv.includes(`'=HYPERLINK(`), "the formula cell is quoted");
        assert.ok(
          !/(^|,)"?=HYPERLINK/m.test(csv),
          "no cell starts with the formula",
        );
      },
    );
  } finally {
    await sql.end();
  }
});
