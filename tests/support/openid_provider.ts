// A real OpenID Provider for tests: `oidc-provider` on loopback, with one
// confidential client, accounts that sign in with any id (their email is
// <id>, verified, and groups can be set per account), and sign-in done
// programmatically: where a browser would fill the provider's login and
// consent pages, finishInteraction records the result and resumes the flow.
//
// Logout, as the provider does it: RP-initiated logout (its
// end_session_endpoint and confirm page) and Back-Channel Logout 1.0 (it
// POSTs a logout token to the client's backchannel_logout_uri when a session
// at the provider ends). The client is registered through the provider's
// adapter rather than as a static client, so that a test can add its
// backchannel_logout_uri once it knows the connection id that URI names
// (configureClient). Every logout token the provider delivers is recorded
// with the answer it got, so a test can assert on that answer and replay the
// genuine token; the provider signs with a key this module made, so a test
// can also sign tokens the provider's JWKS vouches for (sign).
import { createServer, type Server } from "node:http";
import { decodeJwt, exportJWK, generateKeyPair, SignJWT } from "jose";
import Provider from "oidc-provider";

/**
 * A browser's cookies at the provider: one per simulated browser, so a test
 * can sign in twice in one browser (one session at the provider) or in two.
 */
export type Browser = { cookies: Map<string, string> };

/** One back-channel logout the provider made, and what it was answered. */
export type BackchannelDelivery = {
  url: string;
  logoutToken: string;
  claims: Record<string, unknown>;
  status: number;
  headers: Headers;
  body: string;
};

export type OpenIdProvider = {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /**
   * The provider's end_session_endpoint (RP-initiated logout), unless it was
   * started without one.
   */
  endSessionEndpoint: string;
  /** A new browser, with no session at the provider. */
  newBrowser(): Browser;
  /**
   * Follows the browser's way from Meridian's /authorize to its callback. A
   * new browser each time unless one is given: then a sign-in where the
   * provider already has a session goes straight back, as a real one does.
   */
  signIn(
    authorizeUrl: string,
    accountEmail: string,
    browser?: Browser,
  ): Promise<Response>;
  /**
   * Merges client metadata into the registration (backchannel_logout_uri,
   * backchannel_logout_session_required, post_logout_redirect_uris, ...),
   * in effect from the provider's next request.
   */
  configureClient(metadata: Record<string, unknown>): Promise<void>;
  /**
   * Ends the browser's session at the provider as its user would: opens `url`
   * (the end_session_endpoint bare, as when the user signs out at the IdP
   * itself, unless an RP's logout URL is given) and answers "Yes, sign me
   * out" on the confirm page. The provider makes its back-channel logouts
   * before it answers the confirmation, so they are all in `deliveries`.
   */
  endSession(
    browser: Browser,
    url?: string,
  ): Promise<{ location: string; deliveries: BackchannelDelivery[] }>;
  /** Every back-channel logout so far, oldest first. */
  deliveries: BackchannelDelivery[];
  /** A JWT signed with the provider's own signing key (published on its JWKS). */
  sign(
    payload: Record<string, unknown>,
    header?: Record<string, unknown>,
  ): Promise<string>;
  close(): Promise<void>;
};

export async function startOpenIdProvider(
  redirectUri: string,
  accounts: Record<
    string,
    { groups?: string[]; amr?: string[]; emailVerified?: boolean }
  > = {},
  options: {
    /**
     * false: no RP-initiated logout, so the discovery document names no
     * end_session_endpoint (as with IdPs that have none).
     */
    rpInitiatedLogout?: boolean;
  } = {},
): Promise<OpenIdProvider> {
  const server: Server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const { port } = server.address() as { port: number };
  const issuer = `http://127.0.0.1:${port}`;
  const clientId = "meridian";
  const clientSecret = "a-client-secret-of-some-length";

  // The provider's signing key, made here so that sign() can use it too.
  const kid = crypto.randomUUID();
  const { privateKey } = await generateKeyPair("RS256", { extractable: true });
  const privateJwk = {
    ...(await exportJWK(privateKey)),
    kid,
    alg: "RS256",
    use: "sig",
  };

  const deliveries: BackchannelDelivery[] = [];
  const provider = new Provider(issuer, {
    jwks: { keys: [privateJwk] },
    pkce: { required: () => true },
    claims: {
      openid: ["sub"],
      email: ["email", "email_verified"],
      profile: ["groups"],
    },
    findAccount: (_ctx: unknown, id: string) => ({
      accountId: id,
      claims: () => ({
        sub: id,
        email: id,
        email_verified: accounts[id]?.emailVerified ?? true,
        groups: accounts[id]?.groups ?? [],
      }),
    }),
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: { enabled: options.rpInitiatedLogout ?? true },
      backchannelLogout: { enabled: true },
    },
    interactions: {
      url: (_ctx: unknown, interaction: { uid: string }) =>
        `/interaction/${interaction.uid}`,
    },
    // The provider's outgoing requests: back-channel logouts are recorded
    // with the answer they got (read here, so no response body is left
    // open), and otherwise passed through unchanged. (oidc-provider's guard
    // against requests to special-use addresses, loopback among them, needs
    // Node's undici and is off under Deno, as it warns: so it can reach
    // Meridian on 127.0.0.1.)
    fetch: async (url: string | URL, init: RequestInit) => {
      const logoutToken = init.body instanceof URLSearchParams
        ? init.body.get("logout_token")
        : null;
      const res = await fetch(url, init);
      if (logoutToken === null) return res;
      const body = await res.text();
      deliveries.push({
        url: String(url),
        logoutToken,
        claims: decodeJwt(logoutToken),
        status: res.status,
        headers: res.headers,
        body,
      });
      return new Response(body, { status: res.status, headers: res.headers });
    },
  });
  server.on("request", provider.callback());

  // The client lives in the provider's adapter (a dynamic registration), so
  // configureClient can change it after start: a static client's metadata is
  // fixed when the provider first reads it.
  let clientMetadata: Record<string, unknown> = {
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: [redirectUri],
    grant_types: ["authorization_code"],
    response_types: ["code"],
  };
  const configureClient = async (metadata: Record<string, unknown>) => {
    clientMetadata = { ...clientMetadata, ...metadata };
    await provider.Client.adapter.upsert(clientId, clientMetadata);
  };
  await configureClient({});

  const newBrowser = (): Browser => ({ cookies: new Map() });
  /** A request as the browser makes it: its cookies sent, new ones kept. */
  const visit = async (
    browser: Browser,
    url: string,
    init: RequestInit = {},
  ) => {
    const res = await fetch(url, {
      ...init,
      redirect: "manual",
      headers: {
        ...(init.headers as Record<string, string> | undefined),
        cookie: [...browser.cookies].map(([k, v]) => `${k}=${v}`).join("; "),
      },
    });
    for (const c of res.headers.getSetCookie()) {
      const [pair, ...attributes] = c.split(";");
      const at = pair.indexOf("=");
      const name = pair.slice(0, at).trim();
      const value = pair.slice(at + 1);
      // The provider deletes a cookie by expiring it (its session, at logout).
      const expired = attributes.some((a) => {
        const [k, v = ""] = a.trim().split("=");
        return (k.toLowerCase() === "expires" && Date.parse(v) <= Date.now()) ||
          (k.toLowerCase() === "max-age" && Number(v) <= 0);
      });
      if (expired || value === "") browser.cookies.delete(name);
      else browser.cookies.set(name, value);
    }
    return res;
  };
  const get = async (browser: Browser, url: string) => {
    const res = await visit(browser, url);
    await res.body?.cancel();
    return res;
  };
  const endSessionEndpoint = new URL("/session/end", issuer).href;

  return {
    issuer,
    clientId,
    clientSecret,
    endSessionEndpoint,
    newBrowser,
    configureClient,
    deliveries,
    async signIn(authorizeUrl, accountEmail, browser = newBrowser()) {
      // Meridian sends the browser to the provider...
      let res = await get(browser, authorizeUrl);
      let location = res.headers.get("location") ?? "";
      res = await get(browser, location);
      location = res.headers.get("location") ?? "";
      // ...which, when it has a session for this account, comes straight back...
      if (location.startsWith(redirectUri)) {
        return await fetch(location, { redirect: "manual" });
      }
      const uid = location.match(/\/interaction\/([^/?]+)/)?.[1];
      if (!uid) throw new Error(`no interaction: ${res.status} ${location}`);
      // ...else the user signs in and consents (done here in-process)...
      const interaction = await provider.Interaction.find(uid);
      if (!interaction) throw new Error("interaction not found");
      const grant = new provider.Grant({ accountId: accountEmail, clientId });
      grant.addOIDCScope("openid email profile");
      const grantId = await grant.save();
      interaction.result = {
        login: { accountId: accountEmail, amr: accounts[accountEmail]?.amr },
        consent: { grantId },
      };
      await interaction.save(60);
      // ...and the provider sends the browser back to Meridian's callback.
      res = await get(browser, new URL(interaction.returnTo, issuer).href);
      location = res.headers.get("location") ?? "";
      if (!location.startsWith(redirectUri)) {
        throw new Error(
          `the provider did not return to the callback: ${res.status} ${location}`,
        );
      }
      return await fetch(location, { redirect: "manual" });
    },
    async endSession(browser, url = endSessionEndpoint) {
      const before = deliveries.length;
      const page = await visit(browser, url);
      const html = await page.text();
      if (page.status !== 200) {
        throw new Error(`end session: ${page.status} ${html.slice(0, 500)}`);
      }
      // The confirm page (or, with no session, a self-submitting form)
      // carries the confirm URL and the session's xsrf value.
      const action = html.match(/<form[^>]*action="([^"]+)"/)?.[1];
      const xsrf = html.match(/name="xsrf" value="([^"]+)"/)?.[1];
      if (!action || !xsrf) {
        throw new Error(`no logout form: ${html.slice(0, 500)}`);
      }
      const confirmed = await visit(browser, action.replaceAll("&amp;", "&"), {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ xsrf, logout: "yes" }),
      });
      const text = await confirmed.text();
      if (confirmed.status !== 303) {
        throw new Error(
          `end session confirm: ${confirmed.status} ${text.slice(0, 500)}`,
        );
      }
      return {
        location: confirmed.headers.get("location") ?? "",
        deliveries: deliveries.slice(before),
      };
    },
    sign: (payload, header = {}) =>
      new SignJWT(payload)
        .setProtectedHeader({ alg: "RS256", kid, ...header })
        .sign(privateKey),
    close: () => new Promise((r) => server.close(() => r())),
  };
}
