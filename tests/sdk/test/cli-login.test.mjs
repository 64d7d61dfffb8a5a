// cli-login.test.mjs: Stack's published JS SDK, unpatched, logs a CLI in through the real
// gateway: StackClientApp.promptCliLogin() starts the attempt and polls, the test plays the
// browser (complete with a signed-in user's refresh token), and the refresh token the SDK returns
// is an authflow session (it refreshes, and its access token validates).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { StackClientApp } from '@stackframe/js';
import { startGateway, createTenant, call, refusedUrls } from '../support.mjs';

let gateway;
const tenant = randomUUID();
let serverKey;

before(async () => {
  gateway = await startGateway();
  serverKey = await createTenant(tenant);
});

after(async () => {
  await gateway?.stop();
  assert.deepEqual(refusedUrls, [], 'the SDK tried to reach hosts other than the gateway');
});

// app is the SDK's client app for a project id, talking to the gateway.
function app(projectId) {
  return new StackClientApp({
    baseUrl: gateway.url,
    projectId,
    publishableClientKey: 'pck_authflow_test',
    tokenStore: 'memory',
  });
}

// The browser side, under the tenant's project id as the browser's app would send it.
const browser = (projectId) => ({ 'x-hexclave-project-id': projectId });

// signedInRefreshToken: the app's backend signs a user in (server key) and hands the browser its
// refresh token.
async function signedInRefreshToken(userId) {
  const created = await call(gateway.url, 'POST', '/api/v1/sessions', {
    headers: { 'x-server-key': serverKey, 'x-tenant-id': tenant },
    body: { user_id: userId },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return created.body.refresh_token;
}

// loginWith runs promptCliLogin; the promptLink callback receives the login URL and code, and
// the browser completes the attempt with what complete(loginCode) does.
async function loginWith(projectId, complete, extra = {}) {
  const prompted = [];
  let browserDone = Promise.resolve();
  const result = await app(projectId).promptCliLogin({
    appUrl: 'http://127.0.0.1:9/app',
    waitTimeMillis: 50,
    maxAttempts: 200,
    ...extra,
    promptLink: (url, loginCode) => {
      prompted.push({ url, loginCode });
      // The SDK polls while the browser works; a failure here fails the test after the poll ends.
      browserDone = complete(loginCode);
      browserDone.catch(() => {}); // awaited below, after the poll
    },
  });
  await browserDone;
  return { result, prompted };
}

// assertIsSession: the refresh token refreshes in the tenant and its new access token is valid.
async function assertIsSession(refreshToken, projectId, expected) {
  const refreshed = await call(gateway.url, 'POST', '/api/v1/sessions/current/refresh', {
    headers: { 'x-refresh-token': refreshToken, ...browser(projectId) },
  });
  assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
  const current = await call(gateway.url, 'GET', '/api/v1/sessions/current', {
    headers: { authorization: `Bearer ${refreshed.body.access_token}`, ...browser(projectId) },
  });
  assert.equal(current.status, 200, JSON.stringify(current.body));
  for (const [field, value] of Object.entries(expected)) assert.equal(current.body[field], value, field);
  return current.body;
}

test('promptCliLogin: the browser completes with a signed-in user, the SDK gets a working session', async () => {
  const user = `did:plc:sdk-${randomUUID()}`;
  const browserToken = await signedInRefreshToken(user);
  const { result, prompted } = await loginWith(tenant, async (loginCode) => {
    const done = await call(gateway.url, 'POST', '/api/v1/auth/cli/complete', {
      headers: browser(tenant),
      body: { login_code: loginCode, refresh_token: browserToken },
    });
    assert.equal(done.status, 200, JSON.stringify(done.body));
    assert.deepEqual(done.body, { success: true });
  });
  assert.equal(prompted.length, 1);
  assert.ok(prompted[0].url.includes(encodeURIComponent(prompted[0].loginCode)) || prompted[0].url.includes(prompted[0].loginCode),
            `the login URL carries the login code: ${prompted[0].url}`);
  assert.equal(result.status, 'ok', `promptCliLogin failed: ${result.error}`);
  const session = await assertIsSession(result.data, tenant, { user_id: user, tenant, is_anonymous: false });
  assert.notEqual(session.session_id, undefined);
});

test('promptCliLogin from an anonymous CLI: check, claim-anon-session, complete as the claimed user', async () => {
  const signUp = await call(gateway.url, 'POST', '/api/v1/auth/anonymous/sign-up', { headers: browser(tenant) });
  assert.equal(signUp.status, 200, JSON.stringify(signUp.body));
  const { result, prompted } = await loginWith(tenant, async (loginCode) => {
    const check = await call(gateway.url, 'POST', '/api/v1/auth/cli/complete', {
      headers: browser(tenant), body: { login_code: loginCode, mode: 'check' },
    });
    assert.deepEqual(check.body, { cli_session_state: 'anonymous' });
    const claimed = await call(gateway.url, 'POST', '/api/v1/auth/cli/complete', {
      headers: browser(tenant), body: { login_code: loginCode, mode: 'claim-anon-session' },
    });
    assert.equal(claimed.status, 200, JSON.stringify(claimed.body));
    const done = await call(gateway.url, 'POST', '/api/v1/auth/cli/complete', {
      headers: browser(tenant), body: { login_code: loginCode, refresh_token: claimed.body.refresh_token },
    });
    assert.equal(done.status, 200, JSON.stringify(done.body));
  }, { anonRefreshToken: signUp.body.refresh_token });
  assert.equal(prompted.length, 1);
  assert.equal(result.status, 'ok', `promptCliLogin failed: ${result.error}`);
  await assertIsSession(result.data, tenant, { user_id: signUp.body.user_id, tenant, is_anonymous: true });
});

test('a project id in upper case names the same tenant as in lower case', async () => {
  const user = `did:plc:sdk-upper-${randomUUID()}`;
  const browserToken = await signedInRefreshToken(user);
  const { result } = await loginWith(tenant.toUpperCase(), async (loginCode) => {
    const done = await call(gateway.url, 'POST', '/api/v1/auth/cli/complete', {
      headers: browser(tenant), body: { login_code: loginCode, refresh_token: browserToken },
    });
    assert.equal(done.status, 200, JSON.stringify(done.body));
  });
  assert.equal(result.status, 'ok', `promptCliLogin failed: ${result.error}`);
  await assertIsSession(result.data, tenant.toUpperCase(), { user_id: user, tenant });
});

test('the project internal (the Stack CLI\'s own project id)', async () => {
  await createTenant('internal');
  const created = await call(gateway.url, 'POST', '/api/v1/auth/anonymous/sign-up', { headers: browser('internal') });
  assert.equal(created.status, 200, JSON.stringify(created.body));
  const { result } = await loginWith('internal', async (loginCode) => {
    const done = await call(gateway.url, 'POST', '/api/v1/auth/cli/complete', {
      headers: browser('internal'), body: { login_code: loginCode, refresh_token: created.body.refresh_token },
    });
    assert.equal(done.status, 200, JSON.stringify(done.body));
  });
  assert.equal(result.status, 'ok', `promptCliLogin failed: ${result.error}`);
  await assertIsSession(result.data, 'internal', { user_id: created.body.user_id, tenant: 'internal' });
});

test('the browser completing under another project is refused (PROJECT_ID_MISMATCH), and the CLI gets no session', async () => {
  const other = randomUUID();
  await createTenant(other);
  const user = `did:plc:sdk-other-${randomUUID()}`;
  const browserToken = await signedInRefreshToken(user);
  let completion;
  const { result } = await loginWith(tenant, async (loginCode) => {
    completion = await call(gateway.url, 'POST', '/api/v1/auth/cli/complete', {
      headers: browser(other), body: { login_code: loginCode, refresh_token: browserToken },
    });
  }, { maxAttempts: 10 });
  assert.equal(completion.status, 400);
  assert.equal(completion.body.code, 'PROJECT_ID_MISMATCH');
  assert.equal(result.status, 'error', 'nobody completed the attempt in its project');
});

// The SDK asks for errors as 200 with x-hexclave-actual-status, and rebuilds Stack's known
// errors from the body and x-hexclave-known-error: a refused start is the SDK's own KnownError.
test('a refused start is a known error to the SDK: an unknown project, an expiry over 24 hours', async () => {
  await assert.rejects(
    app(randomUUID()).promptCliLogin({ appUrl: 'http://127.0.0.1:9/app', promptLink() {}, maxAttempts: 1 }),
    (error) => error.errorCode === 'PROJECT_NOT_FOUND' && error.message.includes('not found'),
  );
  await assert.rejects(
    app(tenant).promptCliLogin({ appUrl: 'http://127.0.0.1:9/app', promptLink() {}, maxAttempts: 1, expiresInMillis: 24 * 3600 * 1000 + 1 }),
    (error) => error.errorCode === 'SCHEMA_ERROR' && /expires_in_millis/.test(error.message),
  );
});
