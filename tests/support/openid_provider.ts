// A real OpenID Provider for tests: `oidc-provider` on loopback, with one
// confidential client, accounts that sign in with any id (their email is
// <id>, verified, and groups can be set per account), and sign-in done
// programmatically: where a browser would fill the provider's login and
// consent pages, finishInteraction records the result and resumes the flow.
import { createServer, type Server } from "node:http";
import Provider from "oidc-provider";

export type OpenIdProvider = {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Follows the browser's way from Meridian's /authorize to its callback. */
  signIn(authorizeUrl: string, accountEmail: string): Promise<Response>;
  close(): Promise<void>;
};

export async function startOpenIdProvider(
  redirectUri: string,
  accounts: Record<
    string,
    { groups?: string[]; amr?: string[]; emailVerified?: boolean }
  > = {},
): Promise<OpenIdProvider> {
  const server: Server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const { port } = server.address() as { port: number };
  const issuer = `http://127.0.0.1:${port}`;
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
      claims: () => ({
        sub: id,
        email: id,
        email_verified: accounts[id]?.emailVerified ?? true,
        groups: accounts[id]?.groups ?? [],
      }),
    }),
    features: { devInteractions: { enabled: false } },
    interactions: {
      url: (_ctx: unknown, interaction: { uid: string }) =>
        `/interaction/${interaction.uid}`,
    },
  });
  server.on("request", provider.callback());

  // A cookie jar for the browser's side of the provider.
  const cookies = new Map<string, string>();
  const remember = (res: Response) => {
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(";");
      const at = pair.indexOf("=");
      cookies.set(pair.slice(0, at), pair.slice(at + 1));
    }
  };
  const cookieHeader = () =>
    [...cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  const get = async (url: string) => {
    const res = await fetch(url, {
      redirect: "manual",
      headers: { cookie: cookieHeader() },
    });
    remember(res);
    await res.body?.cancel();
    return res;
  };

  return {
    issuer,
    clientId,
    clientSecret,
    async signIn(authorizeUrl, accountEmail) {
      cookies.clear(); // each sign-in is a new browser, with no session at the provider
      // Meridian sends the browser to the provider...
      let res = await get(authorizeUrl);
      let location = res.headers.get("location") ?? "";
      res = await get(location);
      location = res.headers.get("location") ?? "";
      const uid = location.match(/\/interaction\/([^/?]+)/)?.[1];
      if (!uid) throw new Error(`no interaction: ${res.status} ${location}`);
      // ...where the user signs in and consents (done here in-process)...
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
      res = await get(new URL(interaction.returnTo, issuer).href);
      location = res.headers.get("location") ?? "";
      if (!location.startsWith(redirectUri)) {
        throw new Error(
          `the provider did not return to the callback: ${res.status} ${location}`,
        );
      }
      return await fetch(location, { redirect: "manual" });
    },
    close: () => new Promise((r) => server.close(() => r())),
  };
}
