// An OpenID Provider for the tests: panva's oidc-provider (OpenID-certified), with test clients
// and accounts. Sign-in and consent are automatic: GET /interaction/<uid>?account=<id> signs in
// as that account (what a person's browser would do at a real provider's login page).
//
// node provider.mjs <port> <clients JSON>   (prints "ready" once it listens)
import Provider from "oidc-provider";

const [port, clientsJson] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;

const ACCOUNTS = {
  alice: { email: "alice@example.com", email_verified: true, preferred_username: "alice" },
  bob: { email: "bob@example.com", email_verified: false, preferred_username: "bob" },
  carol: { email: "carol@example.com", email_verified: true, preferred_username: "carol" },
  dave: { email: "dave@example.com", email_verified: true, preferred_username: "dave" },
  erin: { email: "erin@example.com", email_verified: true, preferred_username: "erin" },
  // Claims no account can keep as they are.
  "mixed-case": { email: "Mixed.Case@Example.COM", email_verified: true },
  "long-mail": { email: `${"x".repeat(250)}@example.com`, email_verified: true },
  "nul-mail": { email: "nul\u0000@example.com", email_verified: true },
  "not-a-mail": { email: "nobody at example.com", email_verified: true },
  // No e-mail address at all.
  frank: { preferred_username: "frank" },
};
// Any account id starting so (a subject identifier longer than an identity keeps).
const LONG_SUBJECT = "long-subject-";

const provider = new Provider(issuer, {
  clients: JSON.parse(clientsJson),
  pkce: { required: () => true },
  scopes: ["openid", "email", "profile"],
  claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["preferred_username"] },
  features: { devInteractions: { enabled: false } },
  async findAccount(ctx, sub) {
    const claims = sub.startsWith(LONG_SUBJECT) ? { email: "long@example.com" } : ACCOUNTS[sub];
    if (!claims) return undefined;
    return { accountId: sub, claims: async () => ({ sub, ...claims }) };
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  // Consent is given at once, for what the client asked.
  async loadExistingGrant(ctx) {
    const found = ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (found) return ctx.oidc.provider.Grant.find(found);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope("openid email profile");
    await grant.save();
    return grant;
  },
});
provider.proxy = false;

provider.use(async (ctx, next) => {
  const match = ctx.path.match(/^\/interaction\/([^/]+)$/);
  if (!match || ctx.method !== "GET") return next();
  const returnTo = await provider.interactionResult(
    ctx.req,
    ctx.res,
    { login: { accountId: ctx.query.account } },
    { mergeWithLastSubmission: false },
  );
  ctx.redirect(returnTo);
});

provider.listen(Number(port), "127.0.0.1", () => console.log("ready"));
