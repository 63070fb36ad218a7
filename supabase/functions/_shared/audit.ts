// Audit events that no row trigger sees (exports, denials, failed logins),
// recorded in a transaction of their own: a denial must survive the failure it
// describes, and the writer (private.append_audit) is not callable by users.
import type postgres from "postgres";
import { type Principal, setRequestContext } from "./auth.ts";

export type AuditEvent = {
  orgId: string;
  action: string;
  resourceType: string;
  resourceId?: string | null;
  details?: Record<string, unknown>;
  risk?: "low" | "medium" | "high" | "critical";
  status?: "success" | "failure";
  tags?: string[];
};

function actorOf(principal: Principal) {
  if (principal.kind === "user") {
    return { type: "user", user_id: principal.actorId, email: principal.email };
  }
  if (principal.kind === "api_key") {
    return { type: "api_key", api_key_id: principal.actorId };
  }
  return { type: "system" };
}

/** Appends an event to the organization's audit chain (no-op for unknown orgs). */
export async function recordAuditEvent(
  sql: postgres.Sql,
  principal: Principal,
  event: AuditEvent,
): Promise<void> {
  await sql.begin(async (tx) => {
    await setRequestContext(tx, principal);
    // Only an existing organization has a chain to append to.
    await tx`
      select private.append_audit(
        o.id, ${event.action}, ${event.resourceType}, ${
      event.resourceId ?? null
    },
        null, ${
      event.details ? tx.json(event.details as postgres.JSONValue) : null
    },
        ${event.risk ?? "low"}::public.audit_risk,
        ${event.status ?? "success"}::public.audit_status,
        ${event.tags ?? []}::text[], ${tx.json(actorOf(principal))})
      from public.organizations o where o.id = ${event.orgId}::uuid`;
  });
}

/** Records a permission denial; failing to record it is logged, not raised. */
export async function recordDenial(
  sql: postgres.Sql,
  principal: Principal,
  orgId: string,
  attempted: string,
  permission: string,
): Promise<void> {
  try {
    await recordAuditEvent(sql, principal, {
      orgId,
      action: "permission.denied",
      resourceType: "permission",
      resourceId: permission,
      details: { attempted },
      risk: "medium",
      status: "failure",
      tags: ["auth"],
    });
  } catch (err) {
    console.error("audit: could not record permission denial", err);
  }
}
