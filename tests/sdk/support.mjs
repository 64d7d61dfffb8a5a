// support.mjs: the real gateway as a child process, the database through the libpq environment,
// and a fetch that reaches only loopback hosts.
import pg from 'pg';
import { refusedUrls, realFetch, startGateway, sqlWith } from '../support/gateway.mjs';

// The SDK may only talk to the gateway (on errors it probes 1.1.1.1 and api.stack-auth.com):
// ../support/gateway.mjs restricts fetch to loopback hosts and records the rest in refusedUrls.
export { refusedUrls, startGateway };

// sql runs one statement on the cluster of the libpq environment.
export const sql = sqlWith(pg);

// createTenant makes a tenant with the rate limits on CLI start and anonymous sign-up lifted,
// and a server key for it (the test plays the app's backend with it).
export async function createTenant(name) {
  await sql('SELECT authflow.tenant_set($1)', [name]);
  await sql('SELECT authflow.rate_limit_set(action, NULL, NULL, $1) FROM authflow.rate_limit_defaults()', [name]);
  return (await sql("SELECT authflow.api_key_create('server', $1) AS key", [name]))[0].key;
}

// call sends one request to the gateway (the browser's and the app backend's side) and returns
// {status, headers, body} with the body parsed as JSON when it is.
export async function call(base, method, route, { headers = {}, body } = {}) {
  const response = await realFetch(base + route, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed = text;
  try {
    parsed = JSON.parse(text);
  } catch {}
  return { status: response.status, headers: response.headers, body: parsed };
}
