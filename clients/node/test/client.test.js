// getToken against the real agent over its real socket; run by
// tests/integration/test_clients.sh, which starts the agent and sets
// MPA_TEST_SOCKET and MPA_TEST_CONFIG.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, writeFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import {
  AgentError, InvalidRequestError, SYSTEM_CONFIG_FILE, UnavailableError, UnknownClientError,
  getToken, getTokenResponse, socketPath,
} from '../index.js';

const SOCKET = process.env.MPA_TEST_SOCKET;
const CONFIG = process.env.MPA_TEST_CONFIG;
const claims = (token) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());

test('a token for the scopes asked', async () => {
  const token = await getToken(['altinn:enduser'], { socket: SOCKET });
  assert.equal(claims(token).scope, 'altinn:enduser');
});

test('the whole answer, with grant fields', async () => {
  const answer = await getTokenResponse(['skatteetaten:test'], { socket: SOCKET, client: 'default', minTtl: 30, resource: ['https://example.no/api'] });
  assert.equal(answer.tokenType, 'Bearer');
  assert.equal(answer.scope, 'skatteetaten:test');
  assert.ok(answer.expiresIn > 30);
});

test('the socket is found as the CLI finds it', async () => {
  const saved = process.env.MASKINPORTEN_AGENT_SOCKET;
  process.env.MASKINPORTEN_AGENT_SOCKET = '/env.sock';
  try {
    assert.equal(socketPath({ socket: '/flag.sock', config: CONFIG }), '/flag.sock');
    assert.equal(socketPath({ config: CONFIG }), SOCKET);
    assert.equal(socketPath(), '/env.sock');
    process.env.MASKINPORTEN_AGENT_SOCKET = SOCKET;
    assert.ok(await getToken(['altinn:enduser']));
  } finally {
    if (saved === undefined) delete process.env.MASKINPORTEN_AGENT_SOCKET; else process.env.MASKINPORTEN_AGENT_SOCKET = saved;
  }
  const directory = mkdtempSync(join(tmpdir(), 'mpa-node-'));
  writeFileSync(join(directory, 'agent.toml'), "[agent]\nsocket = 'run/agent.sock' # relative\n");
  assert.equal(socketPath({ config: join(directory, 'agent.toml') }), join(directory, 'run/agent.sock'));
});

test('no socket anywhere says why, as the CLI does', { skip: existsSync(SYSTEM_CONFIG_FILE) }, () => {
  const saved = { ...process.env };
  delete process.env.MASKINPORTEN_AGENT_SOCKET;
  delete process.env.XDG_RUNTIME_DIR;
  try {
    assert.throws(() => socketPath(), (error) => error instanceof InvalidRequestError && error.code === 'invalid_request' &&
      error.message.includes('/etc/maskinporten-agent/agent.toml does not exist, and XDG_RUNTIME_DIR is not set'));
  } finally {
    Object.assign(process.env, saved);
  }
});

test('refusals are typed by their code', async () => {
  await assert.rejects(getToken(['altinn:enduser'], { socket: SOCKET, client: 'nope' }),
    (error) => error instanceof UnknownClientError && error.code === 'unknown_client');
  await assert.rejects(getToken(['not:mine'], { socket: SOCKET }),
    (error) => error instanceof AgentError && ['forbidden', 'invalid_scope'].includes(error.code));
  await assert.rejects(getToken(['a b'], { socket: SOCKET }), InvalidRequestError);
  await assert.rejects(getToken(['altinn:enduser'], { socket: SOCKET, consumer: 'x' }), TypeError);
});

test('no agent is unavailable', async () => {
  await assert.rejects(getToken(['altinn:enduser'], { socket: `${SOCKET}.missing` }),
    (error) => error instanceof UnavailableError && error.message.includes('does not exist; is the agent running?'));
});

test('an agent that does not answer times out', async () => {
  const path = join(mkdtempSync(join(tmpdir(), 'mpa-node-')), 'silent.sock');
  const silent = createServer(() => {});
  await new Promise((resolve) => silent.listen(path, resolve));
  try {
    await assert.rejects(getToken(['altinn:enduser'], { socket: path, timeout: 300 }),
      (error) => error instanceof UnavailableError && error.message.includes('did not answer within 300 ms'));
  } finally {
    silent.close();
  }
});

test('a socket in a directory others may write to is refused before anything is sent', async () => {
  const directory = mkdtempSync(join(tmpdir(), 'mpa-node-'));
  chmodSync(directory, 0o777);
  const path = join(directory, 'squat.sock');
  let asked = false;
  const squatter = createServer((connection) => { connection.on('data', () => { asked = true; }); });
  await new Promise((resolve) => squatter.listen(path, resolve));
  try {
    await assert.rejects(getToken(['altinn:enduser'], { socket: path }),
      (error) => error instanceof UnavailableError &&
        error.message.includes(`refusing the socket ${path}: its directory ${directory} is writable by others (mode 0777)`));
    assert.equal(asked, false);
  } finally {
    squatter.close();
  }
});
