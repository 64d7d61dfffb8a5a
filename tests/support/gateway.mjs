// gateway.mjs: what the Node end-to-end suites (tests/sdk, tests/oauth) share: the real gateway
// binary as a child process, a global fetch that reaches only loopback hosts, and statements
// on the cluster of the libpq environment. No dependency of its own: each suite passes its pg.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));

// The client under test may only talk to the gateway: a library that probes public hosts on
// errors must neither depend on nor reach them. Every other URL is refused the way a network
// failure is (TypeError), and recorded in refusedUrls; realFetch is the unrestricted one.
export const refusedUrls = [];
export const realFetch = globalThis.fetch;
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

// sqlWith(pg) is sql(text, values): one statement on the cluster of the libpq environment.
export function sqlWith(pg) {
  return async function sql(text, values = []) {
    const client = new pg.Client();
    await client.connect();
    try {
      return (await client.query(text, values)).rows;
    } finally {
      await client.end();
    }
  };
}
