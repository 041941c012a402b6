// A real OpenID Connect provider for Ringside's tests: the npm `oidc-provider`
// package, configured from a JSON file so that Rust integration tests and the
// Playwright suite log in against the same kind of IdP as production (Okta,
// Keycloak, ...) instead of a fake.
//
// usage: node end2end/oidc/provider.mjs --config FILE [--port PORT] [--issuer URL]
//
// --port 0 (the default) takes any free loopback port; the issuer defaults to
// http://127.0.0.1:PORT. Once it accepts connections the script prints
//   oidc-provider listening on http://127.0.0.1:PORT
// on stdout, which is what tests wait for. See end2end/oidc/README.md for the
// configuration file.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

import Provider, { errors } from 'oidc-provider';

const { values: args } = parseArgs({
  options: {
    config: { type: 'string' },
    port: { type: 'string', default: '0' },
    issuer: { type: 'string' },
  },
});
if (!args.config) {
  console.error('usage: node provider.mjs --config FILE [--port PORT] [--issuer URL]');
  process.exit(2);
}

const config = JSON.parse(readFileSync(args.config, 'utf8'));
const claimPaths = { groups: 'groups', roles: 'roles', ...config.claims };
const accounts = new Map(config.accounts.map((account) => [account.sub, account]));
const resources = new Map(config.resources.map((resource) => [resource.indicator, resource]));

// Claims such as `realm_access.roles` (Keycloak's shape) are nested objects in
// the token, so each configured dot path is written as one.
function setPath(target, path, value) {
  const segments = path.split('.');
  let node = target;
  for (const segment of segments.slice(0, -1)) {
    node[segment] ??= {};
    node = node[segment];
  }
  node[segments.at(-1)] = value;
}

function membershipClaims(subject) {
  const claims = {};
  setPath(claims, claimPaths.groups, subject.groups ?? []);
  setPath(claims, claimPaths.roles, subject.roles ?? []);
  return claims;
}

const topLevel = (path) => path.split('.')[0];

// A fresh signing key per start: tests fetch the JWKS like any relying party,
// so nothing needs to be shared with them ahead of time.
const signingKey = {
  ...generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }),
  kid: `test-rsa-${randomBytes(4).toString('hex')}`,
  alg: 'RS256',
  use: 'sig',
};

function start(issuer, server) {
  const provider = new Provider(issuer, {
    clients: config.clients,
    extraClientMetadata: {
      // The automation client's own groups and roles, emitted in its JWT
      // access tokens the way a user's are emitted in ID tokens.
      properties: ['groups', 'roles'],
      validator(ctx, key, value) {
        if (value !== undefined && !(Array.isArray(value) && value.every((v) => typeof v === 'string'))) {
          throw new errors.InvalidClientMetadata(`${key} must be an array of strings`);
        }
      },
    },
    jwks: { keys: [signingKey] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    // Put the scope claims (email, groups, roles) into the ID token itself:
    // the console maps an ID token to an identity without a userinfo call.
    conformIdTokenClaims: false,
    claims: {
      openid: ['sub', topLevel(claimPaths.groups), topLevel(claimPaths.roles)],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username'],
    },
    async findAccount(ctx, sub) {
      const account = accounts.get(sub);
      if (!account) return undefined;
      return {
        accountId: sub,
        async claims() {
          return {
            sub,
            email: account.email,
            email_verified: account.email !== undefined,
            name: account.name,
            preferred_username: account.preferred_username ?? sub,
            ...membershipClaims(account),
          };
        },
      };
    },
    features: {
      devInteractions: { enabled: true },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        async getResourceServerInfo(ctx, indicator) {
          const resource = resources.get(indicator);
          if (!resource) throw new errors.InvalidTarget();
          return {
            scope: resource.scope,
            audience: resource.audience ?? indicator,
            accessTokenTTL: resource.access_token_ttl ?? 300,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    async extraTokenClaims(ctx, token) {
      if (token.kind !== 'ClientCredentials') return undefined;
      const client = await provider.Client.find(token.clientId);
      return membershipClaims({ groups: client.groups, roles: client.roles });
    },
  });
  // Loopback HTTP is what the tests use; oidc-provider only needs to be told
  // not to expect a TLS-terminating proxy.
  provider.proxy = false;
  server.on('request', provider.callback());
}

const server = createServer();
server.listen(Number(args.port), '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = args.issuer ?? `http://127.0.0.1:${port}`;
  start(issuer, server);
  console.log(`oidc-provider listening on http://127.0.0.1:${port} issuer ${issuer}`);
});

// A test that stops reading stdout after the ready line must not bring the
// provider down with EPIPE when oidc-provider prints a notice.
process.stdout.on('error', () => {});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
