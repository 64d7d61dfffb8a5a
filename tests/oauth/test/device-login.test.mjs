// device-login.test.mjs: openid-client (6.x), a standard OAuth library, unpatched, runs the device
// authorization grant (RFC 8628) against the real gateway: initiateDeviceAuthorization,
// pollDeviceAuthorizationGrant through a slow_down and to the tokens, refreshTokenGrant with the
// refresh token it got; and a denial. The test plays the browser (the verification page's
// backend) from the library's own fetch, documented as customFetch, at the moment of a poll:
// no sleep decides what happens when. Only the library waits, the intervals it is told.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import * as oauth from 'openid-client';
import { refusedUrls, realFetch, startGateway, sql, post } from '../support.mjs';

let gateway;
const tenant = `oauth-${randomUUID()}`;
const tenantHeader = { 'x-tenant-id': tenant };

before(async () => {
  gateway = await startGateway();
  // A tenant that rotates refresh tokens, with a client polled every second.
  await sql('SELECT authflow.tenant_set($1, refresh_rotation => true)', [tenant]);
  await sql('SELECT authflow.rate_limit_set(action, NULL, NULL, $1) FROM authflow.rate_limit_defaults()', [tenant]);
  await sql(`SELECT authflow.oauth_client_register('node-cli', 'Node CLI', $1, '{read,write}', $2, poll_interval => 1)`,
            [`${gateway.url}/device`, tenant]);
});

after(async () => {
  await gateway?.stop();
  assert.deepEqual(refusedUrls, [], 'the library tried to reach hosts other than the gateway');
});

// configuration is the library's client for the gateway, made from the server's metadata (no
// discovery: the gateway has no issuer URL of its own). onTokenRequest(n) runs before the
// library's n-th request to the token endpoint goes out; every answer of it is recorded.
function configuration(onTokenRequest) {
  const config = new oauth.Configuration(
    {
      issuer: gateway.url,
      device_authorization_endpoint: `${gateway.url}/oauth/device_authorization`,
      token_endpoint: `${gateway.url}/oauth/token`,
    },
    'node-cli',
  );
  oauth.allowInsecureRequests(config); // plain HTTP to the loopback gateway
  const answers = [];
  let tokenRequests = 0;
  config[oauth.customFetch] = async (url, options) => {
    const isToken = new URL(url).pathname === '/oauth/token';
    if (isToken) await onTokenRequest?.(++tokenRequests);
    const response = await realFetch(url, { ...options, headers: { ...options.headers, ...tenantHeader } });
    if (isToken) answers.push(response.status === 200 ? 'tokens' : (await response.clone().json()).error);
    return response;
  };
  return { config, answers };
}

// signedInRefreshToken: the app's backend signs a user in; the browser holds its refresh token.
async function signedInRefreshToken(userId) {
  return (await sql('SELECT refresh_token FROM authflow.session_create($1, tenant => $2)', [userId, tenant]))[0].refresh_token;
}

async function current(accessToken) {
  const response = await realFetch(`${gateway.url}/api/v1/sessions/current`, {
    headers: { authorization: `Bearer ${accessToken}`, ...tenantHeader },
  });
  return { status: response.status, body: await response.json() };
}

test('openid-client logs a device in: slow_down, approval on the verification page, tokens, refresh', async () => {
  const user = `did:plc:device-${randomUUID()}`;
  const browserToken = await signedInRefreshToken(user);
  let authorization;
  const { config, answers } = configuration(async (n) => {
    if (n === 1) {
      // Another poll of the same code gets in first (a second process of the CLI, say): it is
      // accepted, so the library's own poll comes too early and is told slow_down.
      const other = await post(gateway.url, '/oauth/token', {
        headers: tenantHeader,
        form: { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: authorization.device_code, client_id: 'node-cli' },
      });
      assert.equal(other.body.error, 'authorization_pending', JSON.stringify(other.body));
    }
    if (n === 2) {
      // The person opens the verification page, which looks the code up and approves it.
      const looked = await post(gateway.url, '/api/v1/device/lookup', {
        headers: tenantHeader, json: { user_code: authorization.user_code.toLowerCase() },
      });
      assert.equal(looked.status, 200, JSON.stringify(looked.body));
      assert.deepEqual([looked.body.client_id, looked.body.client_name, looked.body.scopes], ['node-cli', 'Node CLI', ['read']]);
      const approved = await post(gateway.url, '/api/v1/device/approve', {
        headers: { ...tenantHeader, 'x-refresh-token': browserToken }, json: { user_code: authorization.user_code },
      });
      assert.deepEqual(approved.body, { success: true });
    }
  });

  authorization = await oauth.initiateDeviceAuthorization(config, { scope: 'read' });
  assert.match(authorization.user_code, /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
  assert.equal(authorization.verification_uri, `${gateway.url}/device`);
  assert.equal(authorization.verification_uri_complete, `${gateway.url}/device?user_code=${authorization.user_code}`);
  assert.equal(authorization.interval, 1);
  assert.equal(authorization.expires_in, 600);

  const tokens = await oauth.pollDeviceAuthorizationGrant(config, authorization);
  assert.deepEqual(answers, ['slow_down', 'tokens'], 'the library was told slow_down once, then got its tokens');
  assert.equal(tokens.token_type, 'bearer');
  assert.equal(tokens.scope, 'read');
  assert.ok(tokens.expires_in > 800 && tokens.expires_in <= 900, `expires_in ${tokens.expires_in}`);
  assert.match(tokens.refresh_token, /^afr_/);
  const session = await current(tokens.access_token);
  assert.equal(session.status, 200, JSON.stringify(session.body));
  assert.deepEqual([session.body.user_id, session.body.tenant], [user, tenant]);

  // The refresh token it got works with the library's refresh grant, under the tenant's rotation.
  const renewed = await oauth.refreshTokenGrant(config, tokens.refresh_token);
  assert.match(renewed.access_token, /^afa_/);
  assert.match(renewed.refresh_token, /^afr_/);
  assert.notEqual(renewed.refresh_token, tokens.refresh_token, 'rotation: a new refresh token');
  assert.equal((await current(renewed.access_token)).status, 200);
  assert.equal((await current(tokens.access_token)).status, 401, 'the access token it replaced is dead');
  const again = await oauth.refreshTokenGrant(config, renewed.refresh_token);
  assert.equal((await current(again.access_token)).status, 200, 'and the rotated refresh token refreshes in turn');
});

test('openid-client is told access_denied when the person denies the login', async () => {
  let authorization;
  const { config, answers } = configuration(async (n) => {
    if (n === 1) {
      const denied = await post(gateway.url, '/api/v1/device/deny', { headers: tenantHeader, json: { user_code: authorization.user_code } });
      assert.deepEqual(denied.body, { success: true });
    }
  });
  authorization = await oauth.initiateDeviceAuthorization(config);
  await assert.rejects(oauth.pollDeviceAuthorizationGrant(config, authorization),
                       (error) => error instanceof oauth.ResponseBodyError && error.error === 'access_denied');
  assert.deepEqual(answers, ['access_denied']);
});

test('openid-client reports the RFC error of an unknown client', async () => {
  const config = new oauth.Configuration(
    { issuer: gateway.url, device_authorization_endpoint: `${gateway.url}/oauth/device_authorization`, token_endpoint: `${gateway.url}/oauth/token` },
    'no-such-client',
  );
  oauth.allowInsecureRequests(config);
  config[oauth.customFetch] = (url, options) => realFetch(url, { ...options, headers: { ...options.headers, ...tenantHeader } });
  await assert.rejects(oauth.initiateDeviceAuthorization(config),
                       (error) => error instanceof oauth.ResponseBodyError && error.error === 'invalid_client' && error.status === 400);
});
