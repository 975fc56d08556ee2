// panva's certified oidc-provider on 127.0.0.1, configured from a JSON argument:
// {"clients": [{client_id, client_secret, redirect_uris, post_logout_redirect_uris}],
//  "accounts": {"<login>": {email, name, groups}}}
// Its login and consent pages are our own plain HTML (the library's development pages load
// web fonts from the internet). A known login with any non-empty password signs in.
// Prints "LISTENING <issuer>" once it serves.
import http from 'node:http';

import Provider from 'oidc-provider';

const config = JSON.parse(process.argv[2]);

const server = http.createServer();
await new Promise((resolve) => { server.listen(0, '127.0.0.1', resolve); });
const issuer = `http://127.0.0.1:${server.address().port}`;

const escape = (value) => String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (title, body) => `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>${escape(title)}</title></head>
<body><h1>${escape(title)}</h1>${body}</body></html>`;

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
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  cookies: {
    keys: ['test-provider-cookie-key'],
    // Plain http: SameSite=None cookies would be dropped by the browser.
    long: { signed: true, sameSite: 'lax' },
    short: { signed: true, sameSite: 'lax' },
  },
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: {
      enabled: true,
      async logoutSource(ctx, form) {
        ctx.body = page('Sign out', `${form}
<button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
<button type="submit" form="op.logoutForm">No, stay signed in</button>`);
      },
      async postLogoutSuccessSource(ctx) {
        ctx.body = page('Signed out', '<p>You are signed out.</p>');
      },
    },
  },
  async renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = page('Error', `<pre>${escape(JSON.stringify(out))}</pre>`);
  },
});

async function formBody(req) {
  let raw = '';
  for await (const chunk of req) raw += chunk;
  return Object.fromEntries(new URLSearchParams(raw));
}

function loginForm(uid, problem) {
  return page('Sign in', `${problem ? `<p class="problem">${escape(problem)}</p>` : ''}
<form autocomplete="off" action="/interaction/${uid}" method="post">
  <input type="hidden" name="prompt" value="login"/>
  <input required type="text" name="login" placeholder="login" autofocus>
  <input required type="password" name="password" placeholder="password">
  <button type="submit">Sign in</button>
</form>`);
}

function consentForm(uid, details) {
  const scopes = (details.missingOIDCScope || []).filter((s) => s !== 'openid');
  return page('Allow access', `<p>The application asks for: ${escape(scopes.join(', '))}</p>
<form autocomplete="off" action="/interaction/${uid}" method="post">
  <input type="hidden" name="prompt" value="consent"/>
  <button autofocus type="submit">Continue</button>
</form>`);
}

async function interaction(req, res, uid) {
  const details = await provider.interactionDetails(req, res);
  const { prompt, params, session } = details;
  const send = (html) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(html);
  };
  if (req.method === 'GET') {
    send(prompt.name === 'login' ? loginForm(uid) : consentForm(uid, prompt.details));
    return;
  }
  const body = await formBody(req);
  if (body.prompt === 'login') {
    if (!config.accounts[body.login] || !body.password) {
      send(loginForm(uid, 'Unknown login or empty password'));
      return;
    }
    await provider.interactionFinished(req, res, { login: { accountId: body.login } }, {
      mergeWithLastSubmission: false,
    });
    return;
  }
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
  if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { consent: { grantId } }, {
    mergeWithLastSubmission: true,
  });
}

const serveProvider = provider.callback();
server.on('request', (req, res) => {
  const match = /^\/interaction\/([\w-]+)$/.exec(new URL(req.url, issuer).pathname);
  if (!match) {
    serveProvider(req, res);
    return;
  }
  interaction(req, res, match[1]).catch((error) => {
    res.writeHead(500, { 'content-type': 'text/plain' });
    res.end(String(error));
  });
});
process.on('SIGTERM', () => { server.close(); process.exit(0); });
console.log(`LISTENING ${issuer}`);
