// panva's certified oidc-provider on 127.0.0.1, configured from a JSON argument:
// {"clients": [{client_id, client_secret, redirect_uris, post_logout_redirect_uris}],
//  "accounts": {"<login>": {email, name, groups}}}
// Any password is accepted for a known login (the library's development login form).
// Prints "LISTENING <issuer>" once it serves.
import http from 'node:http';

import Provider from 'oidc-provider';

const config = JSON.parse(process.argv[2]);

const server = http.createServer();
await new Promise((resolve) => { server.listen(0, '127.0.0.1', resolve); });
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: config.clients.map((client) => ({
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    ...client,
  })),
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
    groups: ['groups'],
  },
  async findAccount(ctx, id) {
    const account = config.accounts[id];
    if (!account) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, preferred_username: id, email_verified: true, ...account };
      },
    };
  },
  cookies: {
    keys: ['test-provider-cookie-key'],
    // Plain http: SameSite=None cookies would be dropped by the browser.
    long: { signed: true, sameSite: 'lax' },
    short: { signed: true, sameSite: 'lax' },
  },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
});

server.on('request', provider.callback());
process.on('SIGTERM', () => { server.close(); process.exit(0); });
console.log(`LISTENING ${issuer}`);
