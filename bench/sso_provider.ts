// The OpenID Provider of `npm run bench -- sso`: oidc-provider on loopback,
// configured as tests/support/openid_provider.ts configures it (one
// confidential client, PKCE required, accounts that sign in with any id, their
// email <id>, verified), plus a control server the bench (Node) drives:
//   POST /signin  {authorize_url, email}: the browser's way from authorize_url
//                 (Meridian's /sso/authorize, or the provider's own /auth) to
//                 the redirect URI, the sign-in and consent done in-process;
//                 answers {location}, the redirect URI with the code, NOT
//                 followed (the bench times that request itself).
//   POST /timings the provider's own handling time (ms, from the request to
//                 the response's end) of each /token and /jwks request since
//                 the last call: {token: [...], jwks: [...]}.
// Run by bench/sso.mjs:
//   deno run ... bench/sso_provider.ts <redirect_uri>
// Prints one JSON line, {issuer, control, client_id, client_secret}, once both
// servers listen; stops when its stdin closes.
import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import Provider from "oidc-provider";

const [redirectUri] = Deno.args;
if (!redirectUri) throw new Error("usage: sso_provider.ts <redirect_uri>");

const listen = async (server: Server) => {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return (server.address() as { port: number }).port;
};

const server = createServer();
const issuer = `http://127.0.0.1:${await listen(server)}`;
const clientId = "meridian";
const clientSecret = "a-client-secret-of-some-length";
const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: [redirectUri],
    grant_types: ["authorization_code"],
    response_types: ["code"],
  }],
  pkce: { required: () => true },
  claims: {
    openid: ["sub"],
    email: ["email", "email_verified"],
    profile: ["groups"],
  },
  findAccount: (_ctx: unknown, id: string) => ({
    accountId: id,
    claims: () => ({ sub: id, email: id, email_verified: true, groups: [] }),
  }),
  features: { devInteractions: { enabled: false } },
  interactions: {
    url: (_ctx: unknown, interaction: { uid: string }) =>
      `/interaction/${interaction.uid}`,
  },
});
const handle = provider.callback();
let timings: { token: number[]; jwks: number[] } = { token: [], jwks: [] };
server.on("request", (req: IncomingMessage, res: ServerResponse) => {
  const started = performance.now();
  const path = new URL(req.url ?? "/", issuer).pathname;
  if (path === "/token" || path === "/jwks") {
    res.on("finish", () => {
      timings[path === "/token" ? "token" : "jwks"].push(
        performance.now() - started,
      );
    });
  }
  handle(req, res);
});

/** The browser's side: a new cookie jar per sign-in, redirects followed by hand. */
async function signIn(authorizeUrl: string, accountEmail: string) {
  const cookies = new Map<string, string>();
  const get = async (url: string) => {
    const res = await fetch(url, {
      redirect: "manual",
      headers: {
        cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join("; "),
      },
    });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(";");
      const at = pair.indexOf("=");
      cookies.set(pair.slice(0, at), pair.slice(at + 1));
    }
    await res.body?.cancel();
    const location = res.headers.get("location") ?? "";
    return { status: res.status, location: new URL(location, url).href };
  };
  // Meridian (if it is the start) sends the browser to the provider, which
  // sends it to its interaction page.
  let at = await get(authorizeUrl);
  let uid: string | undefined;
  for (let hops = 0; hops < 4 && !uid; hops++) {
    uid = at.location.match(/\/interaction\/([^/?]+)/)?.[1];
    if (!uid) at = await get(at.location);
  }
  if (!uid) throw new Error(`no interaction: ${at.status} ${at.location}`);
  // The user signs in and consents (in-process).
  const interaction = await provider.Interaction.find(uid);
  if (!interaction) throw new Error("interaction not found");
  const grant = new provider.Grant({ accountId: accountEmail, clientId });
  grant.addOIDCScope("openid email profile");
  const grantId = await grant.save();
  interaction.result = {
    login: { accountId: accountEmail },
    consent: { grantId },
  };
  await interaction.save(60);
  // The provider sends the browser back to the redirect URI.
  at = await get(new URL(interaction.returnTo, issuer).href);
  for (let hops = 0; hops < 4 && !at.location.startsWith(redirectUri); hops++) {
    at = await get(at.location);
  }
  if (!at.location.startsWith(redirectUri)) {
    throw new Error(
      `the provider did not return to the redirect URI: ${at.status} ${at.location}`,
    );
  }
  return at.location;
}

const control = createServer(async (req, res) => {
  const reply = (status: number, body: unknown) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };
  try {
    let text = "";
    req.setEncoding("utf8");
    for await (const c of req) text += c;
    if (req.method === "POST" && req.url === "/signin") {
      const { authorize_url, email } = JSON.parse(text);
      reply(200, { location: await signIn(authorize_url, email) });
    } else if (req.method === "POST" && req.url === "/timings") {
      reply(200, timings);
      timings = { token: [], jwks: [] };
    } else {
      reply(404, { error: "not found" });
    }
  } catch (err) {
    reply(500, { error: (err as Error).message });
  }
});
const controlPort = await listen(control);
console.log(JSON.stringify({
  issuer,
  control: `http://127.0.0.1:${controlPort}`,
  client_id: clientId,
  client_secret: clientSecret,
}));

// The bench closes stdin when it is done (or dies): stop then.
for await (const _ of Deno.stdin.readable) { /* nothing is sent */ }
Deno.exit(0);
