// SCIM PATCH (RFC 7644 3.5.2) as the real clients send it, applied to a User
// resource: Okta's path-less {"op":"replace","value":{"active":false}}, Entra
// ID's capitalised "Replace"/"Add"/"Remove" and "False"/"True" strings, paths
// into complex attributes (name.givenName), filtered multi-valued paths
// (emails[type eq "work"].value) and enterprise-extension attributes
// (urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department).
// Pure: the result is stored as a PUT would store it.

type Obj = Record<string, unknown>;
export class PatchError extends Error {
  constructor(readonly scimType: string, message: string) {
    super(message);
  }
}

const EXTENSION =
  /^(urn:ietf:params:scim:schemas:extension:[^:]+(?::[^:]+)*:User):(.+)$/i;
const FILTERED = /^(\w+)\[(\w+)\s+eq\s+"([^"]*)"\]\.?(\w+)?$/i;

/** Entra ID sends booleans as "True"/"False" strings. */
function coerce(value: unknown): unknown {
  if (typeof value === "string" && /^(true|false)$/i.test(value)) {
    return value.toLowerCase() === "true";
  }
  return value;
}

function setPath(target: Obj, path: string, value: unknown, op: string) {
  const ext = path.match(EXTENSION);
  if (ext) {
    const urn = ext[1];
    const inner = (target[urn] as Obj | undefined) ?? {};
    target[urn] = inner;
    const schemas = (target.schemas as string[] | undefined) ?? [];
    if (!schemas.includes(urn)) target.schemas = [...schemas, urn];
    return setPath(inner, ext[2], value, op);
  }
  const filtered = path.match(FILTERED);
  if (filtered) {
    const [, attr, key, match, sub] = filtered;
    const list = Array.isArray(target[attr]) ? (target[attr] as Obj[]) : [];
    let item = list.find((e) => String(e[key]) === match);
    if (op === "remove") {
      target[attr] = list.filter((e) => e !== item);
      return;
    }
    if (!item) {
      item = { [key]: match };
      list.push(item);
    }
    if (sub) item[sub] = coerce(value);
    else Object.assign(item, value as Obj);
    target[attr] = list;
    return;
  }
  const [head, ...rest] = path.split(".");
  const key =
    Object.keys(target).find((k) => k.toLowerCase() === head.toLowerCase()) ??
      head;
  if (rest.length === 0) {
    if (op === "remove") delete target[key];
    // add to a multi-valued attribute appends (group members), per RFC 7644.
    else if (
      op === "add" && Array.isArray(target[key]) && Array.isArray(value)
    ) {
      target[key] = [...(target[key] as unknown[]), ...value];
    } else target[key] = coerce(value);
    return;
  }
  const inner = (target[key] as Obj | undefined) ?? {};
  target[key] = inner;
  setPath(inner, rest.join("."), value, op);
}

export function applyPatch(resource: Obj, body: unknown): Obj {
  const ops = (body as { Operations?: unknown[] })?.Operations;
  if (!Array.isArray(ops) || ops.length === 0) {
    throw new PatchError(
      "invalidSyntax",
      "Operations must be a non-empty array",
    );
  }
  const result = structuredClone(resource);
  for (const raw of ops) {
    const o = raw as { op?: string; path?: string; value?: unknown };
    const op = String(o.op ?? "").toLowerCase();
    if (!["add", "replace", "remove"].includes(op)) {
      throw new PatchError(
        "invalidSyntax",
        `op must be add, replace or remove, not "${o.op}"`,
      );
    }
    if (!o.path) {
      if (op === "remove") {
        throw new PatchError("noTarget", "remove needs a path");
      }
      if (o.value === null || typeof o.value !== "object") {
        throw new PatchError(
          "invalidValue",
          "a path-less operation's value must be an object",
        );
      }
      for (const [k, v] of Object.entries(o.value as Obj)) {
        setPath(result, k, v, op);
      }
      continue;
    }
    setPath(result, o.path, o.value, op);
  }
  return result;
}
