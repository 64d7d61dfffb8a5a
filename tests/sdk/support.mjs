// support.mjs: the real gateway as a child process, the database through the libpq environment,
// and a fetch that reaches only loopback hosts.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import pg from 'pg';

const here = path.dirname(fileURLToPath(import.meta.url));

// The SDK may only talk to the gateway: on errors it probes public hosts (1.1.1.1,
// api.stack-auth.com), which a test must neither depend on nor reach. Every other URL is refused
// the way a network failure is (TypeError), and recorded.
export const refusedUrls = [];
const realFetch = globalThis.fetch;
globalThis.fetch = async (input, init) => {
  const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) {
    refusedUrls.push(url.href);
    throw new TypeError(`fetch to ${url.origin} refused by the test (only the gateway is reachable)`);
  }
  return realFetch(input, init);
};

// startGateway runs the built binary on a free loopback port, connected with the libpq
// environment, and resolves with its base URL once it printed its listening line.
export async function startGateway() {
  const binary = process.env.AUTHFLOW_GATEWAY_BINARY ?? path.resolve(here, '../../build/gateway/authflow-gateway');
  const child = spawn(binary, ['--listen', '127.0.0.1:0', '--pool-size', '2'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = [];
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the gateway did not start in 10 s')), 10000);
    child.once('exit', (code) => reject(new Error(`the gateway exited with ${code}`)));
    child.once('error', reject);
    createInterface({ input: child.stdout }).on('line', (line) => {
      lines.push(line);
      const match = /^listening on 127\.0\.0\.1:(\d+)$/.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    lines,
    async stop() {
      child.kill('SIGTERM');
      if (child.exitCode === null) await once(child, 'exit');
    },
  };
}

// sql runs one statement on the cluster of the libpq environment.
export async function sql(text, values = []) {
  const client = new pg.Client();
  await client.connect();
  try {
    return (await client.query(text, values)).rows;
  } finally {
    await client.end();
  }
}

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
