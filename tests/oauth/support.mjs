// support.mjs: the gateway, the database and a form-encoded POST for the device-login suite.
import pg from 'pg';
import { refusedUrls, realFetch, startGateway, sqlWith } from '../support/gateway.mjs';

export { refusedUrls, realFetch, startGateway };

// sql runs one statement on the cluster of the libpq environment.
export const sql = sqlWith(pg);

// post sends one request to the gateway as the test itself (the browser, or a second device
// poll) and returns {status, headers, body}, the body parsed as JSON.
export async function post(base, route, { headers = {}, form, json } = {}) {
  const response = await realFetch(base + route, {
    method: 'POST',
    headers: {
      'content-type': form === undefined ? 'application/json' : 'application/x-www-form-urlencoded',
      ...headers,
    },
    body: form === undefined ? JSON.stringify(json ?? {}) : new URLSearchParams(form).toString(),
  });
  return { status: response.status, headers: response.headers, body: await response.json() };
}
