// Tenancy through supabase-js, as a web client would use it: create an
// organization, invite and accept, change roles, and fail to reach another
// organization's rows with every role.
import assert from "node:assert/strict";
import {
  adminSql,
  client,
  createUser,
  type TestUser,
} from "../support/stack.ts";

const ROLES = ["owner", "admin", "manager", "member", "read_only"] as const;

Deno.test("organizations, invitations and roles through supabase-js", async (t) => {
  const sql = adminSql();
  try {
    const owner = await createUser(sql, "owner");
    const invitee = await createUser(sql, "invitee");
    const slug = `org-${crypto.randomUUID().slice(0, 8)}`;

    const { data: org, error } = await client(owner.token)
      .rpc("create_organization", { p_name: "Initech", p_slug: slug });
    assert.equal(error, null);
    assert.ok(org);

    await t.step("invite and accept", async () => {
      const { data: invites, error } = await client(owner.token).rpc(
        "invite_member",
        {
          p_org_id: org.id,
          p_email: invitee.email,
          p_role: "member",
        },
      );
      assert.equal(error, null);
      const token = invites![0].token;
      const accepted = await client(invitee.token)
        .rpc("accept_invitation", { p_token: token });
      assert.equal(accepted.error, null);
      assert.equal(accepted.data?.role, "member");
      const again = await client(invitee.token)
        .rpc("accept_invitation", { p_token: token });
      assert.equal(again.error?.code, "22023");
    });

    await t.step("change roles, with the owner rules", async () => {
      const promote = await client(owner.token).rpc("change_member_role", {
        p_org_id: org.id,
        p_user_id: invitee.id,
        p_role: "admin",
      });
      assert.equal(promote.error, null);
      const coup = await client(invitee.token).rpc("change_member_role", {
        p_org_id: org.id,
        p_user_id: owner.id,
        p_role: "member",
      });
      assert.equal(coup.error?.code, "42501");
      assert.equal(
        coup.error?.message,
        "only an owner can change or remove an owner",
      );
      const leave = await client(owner.token).rpc("leave_organization", {
        p_org_id: org.id,
      });
      assert.equal(leave.error?.code, "23514");
    });

    await t.step("the audit trail shows who did it", async () => {
      const { data, error } = await client(owner.token).rpc(
        "search_audit_log",
        {
          p_org_id: org.id,
          p_action: "organization_members",
        },
      );
      assert.equal(error, null);
      const actions = data!.map((r) => `${r.action}:${r.actor_email}`);
      assert.ok(
        actions.includes(`organization_members.update:${owner.email}`),
        actions.join(),
      );
      assert.ok(
        actions.includes(`organization_members.insert:${invitee.email}`),
        actions.join(),
      );
    });
  } finally {
    await sql.end();
  }
});

Deno.test("no role reaches another organization's rows through supabase-js", async (t) => {
  const sql = adminSql();
  try {
    const suffix = crypto.randomUUID().slice(0, 8);
    const [orgA] = await sql`
      insert into public.organizations (name, slug, plan) values ('A', ${
      "a-" + suffix
    }, 'enterprise')
      returning id`;
    const [orgB] = await sql`
      insert into public.organizations (name, slug, plan) values ('B', ${
      "b-" + suffix
    }, 'enterprise')
      returning id`;
    const members: Record<string, TestUser> = {};
    for (const org of [orgA, orgB]) {
      for (const role of ROLES) {
        const user = await createUser(
          sql,
          `${role}-${org === orgA ? "a" : "b"}`,
        );
        await sql`insert into public.organization_members (org_id, user_id, role)
                  values (${org.id}, ${user.id}, ${role})`;
        if (org === orgA) members[role] = user;
      }
    }
    // B's webhooks: an endpoint, an event fanned out to it, an attempt.
    const [bEndpoint] = await sql`
      insert into public.webhook_endpoints (org_id, url) values (${orgB.id}, 'https://b.example.com/hooks')
      returning id`;
    await sql`insert into private.webhook_endpoint_secrets (org_id, endpoint_id, secret)
              values (${orgB.id}, ${bEndpoint.id}, private.new_webhook_secret())`;
    // Settled in the same transaction: the stack's dispatcher must not
    // deliver it (and record its own attempt) while this test writes one.
    await sql.begin(async (tx) => {
      await tx`select private.emit_webhook_event(${orgB.id}, 'webhook.test', '{}')`;
      await tx`update public.webhook_deliveries set status = 'succeeded', finished_at = now()
               where org_id = ${orgB.id}`;
    });
    const [bDelivery] =
      await sql`select id from public.webhook_deliveries where org_id = ${orgB.id}`;
    await sql`insert into public.webhook_attempts (org_id, delivery_id, endpoint_id, attempt, status_code)
              values (${orgB.id}, ${bDelivery.id}, ${bEndpoint.id}, 1, 200)`;
    // B's SSO session, of B's owner-to-be: any member of B will do.
    const bMember = await createUser(sql, "b-sso");
    await sql`insert into public.organization_members (org_id, user_id, role)
              values (${orgB.id}, ${bMember.id}, 'member')`;
    await sql`select private.start_sso_session(${orgB.id}, ${bMember.id}, gen_random_uuid(), '[]')`;
    await sql`insert into public.sso_connections (org_id, protocol, name, oidc_issuer, oidc_client_id)
              values (${orgB.id}, 'oidc', 'B IdP', 'https://b.example.com', 'b-client')`;
    await sql`insert into public.scim_users (org_id, user_id, user_name)
              values (${orgB.id}, ${bMember.id}, 'b-member@b.example')`;
    await sql`insert into public.scim_groups (org_id, display_name) values (${orgB.id}, 'B group')`;
    await sql`insert into public.sso_domains (org_id, domain, verified_at)
              values (${orgB.id}, ${"b-" + suffix + ".example"}, now())`;
    // B's attribution: a campaign, its spend, settings, a run with a result
    // and a path.
    const [bCampaign] = await sql`
      insert into public.campaigns (org_id, key, name, utm_campaign) values (${orgB.id}, 'b', 'B', 'b')
      returning id`;
    await sql`insert into public.ad_spend (org_id, day, campaign_id, source, amount, currency)
              values (${orgB.id}, current_date, ${bCampaign.id}, 'csv', 1, 'USD')`;
    await sql`insert into public.attribution_settings (org_id) values (${orgB.id})`;
    const [bRun] = await sql`
      insert into public.attribution_runs (org_id, model, period_from, period_to, window_days, base_currency)
      values (${orgB.id}, 'linear', now() - interval '1 day', now(), 30, 'USD') returning id`;
    await sql`insert into public.attribution_results (org_id, run_id, channel, conversions, value)
              values (${orgB.id}, ${bRun.id}, 'email', 1, 1)`;
    await sql`insert into public.attribution_run_paths (org_id, run_id, path, conversions, non_conversions, value)
              values (${orgB.id}, ${bRun.id}, '{email}', 1, 0, 1)`;
    // The stack's stats job may have folded the attempt above in already.
    await sql`insert into public.webhook_endpoint_hourly_stats (org_id, endpoint_id, hour, attempts, latency_buckets)
              values (${orgB.id}, ${bEndpoint.id}, date_trunc('hour', now()), 1, private.webhook_latency_bucket(10))
              on conflict do nothing`;
    const [bWorkspace] = await sql`
      insert into public.workspaces (org_id, name, slug) values (${orgB.id}, 'B', 'b')
      returning id`;

    for (const role of ROLES) {
      await t.step(`${role} of A`, async () => {
        const db = client(members[role].token);
        for (
          const table of [
            "workspaces",
            "organization_members",
            "workspace_members",
            "invitations",
            "api_keys",
            "audit_log",
            "webhook_endpoints",
            "webhook_events",
            "webhook_deliveries",
            "webhook_attempts",
            "webhook_endpoint_hourly_stats",
            "sso_sessions",
            "sso_connections",
            "scim_users",
            "scim_groups",
            "sso_domains",
            "campaigns",
            "ad_spend",
            "attribution_settings",
            "attribution_runs",
            "attribution_results",
            "attribution_run_paths",
          ] as const
        ) {
          const { data } = await db.from(table).select("org_id").eq(
            "org_id",
            orgB.id,
          );
          assert.deepEqual(data ?? [], [], `${role} read ${table} of B`);
        }
        const own = await db.from("organizations").select("id").eq(
          "id",
          orgA.id,
        );
        assert.equal(own.data?.length, 1, `${role} reads its own organization`);
        const other = await db.from("organizations").select("id").eq(
          "id",
          orgB.id,
        );
        assert.deepEqual(other.data, []);

        const insert = await db.from("workspaces")
          .insert({
            org_id: orgB.id,
            name: "planted",
            slug: `planted-${role.replace("_", "-")}`,
          });
        assert.equal(insert.error?.code, "42501", `${role} inserted into B`);
        const update = await db.from("workspaces").update({ name: "hijacked" })
          .eq("id", bWorkspace.id).select();
        assert.deepEqual(update.data ?? [], []);
        const del = await db.from("organizations").delete().eq("id", orgB.id)
          .select();
        assert.deepEqual(del.data ?? [], []);
        const rpc = await db.rpc("create_api_key", {
          p_org_id: orgB.id,
          p_name: "x",
        });
        assert.equal(rpc.error?.code, "42501");
      });
    }
    const [check] = await sql`
      select o.name, (select count(*)::int from public.workspaces w where w.org_id = o.id) as ws
      from public.organizations o where o.id = ${orgB.id}`;
    assert.deepEqual({ ...check }, { name: "B", ws: 1 });
  } finally {
    await sql.end();
  }
});
