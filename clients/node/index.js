// Maskinporten access tokens from a running maskinporten-agent, over its
// Unix socket (one JSON line each way; the README's "Socket protocol (version 1)"). No
// dependencies. The socket is found as `maskinporten-agent token` finds it
// (agent/cli/socket_path.cpp).
import { lstatSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { createConnection } from 'node:net';
import { dirname, isAbsolute, join, normalize, resolve as absolutePath } from 'node:path';

export const SYSTEM_CONFIG_FILE = '/etc/maskinporten-agent/agent.toml';
// An exchange may wait for Maskinporten, including the agent's retries.
export const DEFAULT_TIMEOUT_MS = 90_000;
const MAX_ANSWER_BYTES = 1024 * 1024;
const GRANT_FIELDS = {
  resource: 'resource', consumerOrg: 'consumer_org', issOnbehalfof: 'iss_onbehalfof', pid: 'pid',
  authorizationDetails: 'authorization_details', exchange: 'exchange',
};

// The agent refused, or could not be asked: `code` is the protocol's error
// code ("invalid_scope", "unavailable", ...), `message` its words.
export class AgentError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'AgentError';
    this.code = code;
  }
}
const subclass = (name) => class extends AgentError { constructor(code, message) { super(code, message); this.name = name; } };
export const InvalidRequestError = subclass('InvalidRequestError');
export const ForbiddenError = subclass('ForbiddenError');
export const UnknownClientError = subclass('UnknownClientError');
export const InvalidScopeError = subclass('InvalidScopeError');
export const InvalidGrantError = subclass('InvalidGrantError');
export const InvalidClientError = subclass('InvalidClientError');
export const UnavailableError = subclass('UnavailableError');
export const HsmError = subclass('HsmError');
export const InvalidTokenError = subclass('InvalidTokenError');
export const InternalError = subclass('InternalError');
const BY_CODE = {
  invalid_request: InvalidRequestError, forbidden: ForbiddenError, unknown_client: UnknownClientError,
  invalid_scope: InvalidScopeError, invalid_grant: InvalidGrantError, invalid_client: InvalidClientError,
  unavailable: UnavailableError, hsm_error: HsmError, invalid_token: InvalidTokenError, internal: InternalError,
};
const agentError = (code, message) => new (BY_CODE[code] ?? AgentError)(code, message);

// [agent] socket of a TOML file, read line by line (a basic or literal
// string on its own line, as agent.toml.example writes it).
function socketInConfig(path) {
  let text;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    return { why: error.code === 'ENOENT' ? 'does not exist' : `cannot be opened: ${error.message}`, read: false };
  }
  let table = '';
  for (const line of text.split('\n')) {
    const header = line.match(/^\s*\[\s*([^\]\s]+)\s*\]\s*(#.*)?$/);
    if (header) { table = header[1]; continue; }
    if (table !== 'agent') continue;
    const basic = line.match(/^\s*socket\s*=\s*"((?:[^"\\]|\\.)*)"\s*(#.*)?$/);
    const literal = line.match(/^\s*socket\s*=\s*'([^']*)'\s*(#.*)?$/);
    const value = basic ? JSON.parse(`"${basic[1]}"`) : literal?.[1];
    if (value) return { socket: normalize(isAbsolute(value) ? value : join(dirname(path), value)), read: true };
  }
  return { why: 'names no [agent] socket', read: true };
}

const runtimeDefault = (directory) => normalize(join(directory, 'maskinporten-agent', 'agent.sock'));

// Where `maskinporten-agent token` would look: `socket`; then where
// `run --config CONFIG` listens; then $MASKINPORTEN_AGENT_SOCKET; then
// [agent] socket of /etc/maskinporten-agent/agent.toml; then
// $XDG_RUNTIME_DIR/maskinporten-agent/agent.sock.
export function socketPath({ socket, config } = {}) {
  const runtime = process.env.XDG_RUNTIME_DIR || undefined;
  if (socket) return socket;
  if (config) {
    const found = socketInConfig(config);
    if (found.socket) return found.socket;
    if (!found.read) throw new AgentError('invalid_config', `--config ${config} ${found.why}`);
    if (runtime?.startsWith('/')) return runtimeDefault(runtime);
    throw new AgentError('invalid_config', `--config ${config} names no [agent] socket and XDG_RUNTIME_DIR is not set (an absolute path); \`run\` would refuse it too`);
  }
  if (process.env.MASKINPORTEN_AGENT_SOCKET) return process.env.MASKINPORTEN_AGENT_SOCKET;
  const system = socketInConfig(SYSTEM_CONFIG_FILE);
  if (system.socket) return system.socket;
  if (runtime) return runtimeDefault(runtime);
  throw new InvalidRequestError('invalid_request', 'no socket to ask: give --socket PATH or --config FILE, or set ' +
    `MASKINPORTEN_AGENT_SOCKET (${SYSTEM_CONFIG_FILE} ${system.why}, and XDG_RUNTIME_DIR is not set)`);
}

function requestLine(scopes, options) {
  if (!Array.isArray(scopes)) throw new TypeError('scopes is an array of scopes');
  const request = { op: 'token', scopes };
  if (options.client !== undefined) request.client = options.client;
  for (const [name, value] of Object.entries(options)) {
    if (['client', 'minTtl', 'socket', 'config', 'timeout'].includes(name) || value === undefined) continue;
    if (!(name in GRANT_FIELDS)) throw new TypeError(`unknown option ${name}; the agent takes ${Object.keys(GRANT_FIELDS).join(', ')}`);
    request[GRANT_FIELDS[name]] = value;
  }
  if (options.minTtl !== undefined) request.min_ttl = options.minTtl;
  return JSON.stringify(request) + '\n';
}

// The checks of agent/protocol/server_check.h that Node's standard library
// allows: the socket's directory only. Node cannot read SO_PEERCRED, so the
// uid that serves the socket is not checked (clients/README.md).
const refusal = (path, why) => new UnavailableError('unavailable', `refusing the socket ${path}: ${why}`);
const writableByOthers = (mode) => (mode & 0o022) !== 0;
const modeText = (mode) => (mode & 0o7777).toString(8).padStart(4, '0');

function checkTheWayUp(path, directory, follow, caller, owner) {
  for (;;) {
    const info = follow ? statSync(directory) : lstatSync(directory);
    if (info.isDirectory() && writableByOthers(info.mode) && !(info.mode & 0o1000)) {
      throw refusal(path, `${directory} on its path is writable by others (mode ${modeText(info.mode)}) and not sticky, so another user could replace what is below it`);
    }
    if (![0, caller, owner].includes(info.uid)) {
      throw refusal(path, `${directory} on its path belongs to uid ${info.uid}, neither root, you, nor the owner of the socket's directory`);
    }
    if (directory === '/') return;
    directory = dirname(directory);
  }
}

// Refuses a socket someone else could have put there; a missing socket is
// left to connect() to report.
function checkSocketDirectory(path) {
  let real;
  try { real = realpathSync(path); } catch (error) { if (error.code === 'ENOENT') return; throw error; }
  const directory = dirname(real);
  const info = statSync(directory);
  if (writableByOthers(info.mode)) {
    throw refusal(path, `its directory ${directory} is writable by others (mode ${modeText(info.mode)}), so anyone could have put a socket there; keep the agent's socket in a directory only its owner may write to (the agent's default under $XDG_RUNTIME_DIR or /run/maskinporten-agent is)`);
  }
  const caller = process.geteuid();
  checkTheWayUp(path, dirname(directory), true, caller, info.uid);
  const asGiven = dirname(absolutePath(path));
  if (asGiven !== directory) checkTheWayUp(path, asGiven, false, caller, info.uid);
}

function ask(path, line, timeoutMs) {
  try { checkSocketDirectory(path); } catch (error) {
    return Promise.reject(error instanceof AgentError ? error : new UnavailableError('unavailable', `cannot check the socket ${path}: ${error.message}`));
  }
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    const connection = createConnection(path);
    const fail = (error) => { connection.destroy(); reject(error); };
    connection.setTimeout(timeoutMs, () => fail(new UnavailableError('unavailable', `the agent on ${path} did not answer within ${timeoutMs} ms`)));
    connection.on('connect', () => connection.write(line));
    connection.on('error', (error) => fail(new UnavailableError('unavailable', error.code === 'ENOENT'
      ? `${path} does not exist; is the agent running? (maskinporten-agent run --config FILE)`
      : `cannot ask the agent on ${path}: ${error.message}`)));
    connection.on('data', (chunk) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size > MAX_ANSWER_BYTES) return fail(new InternalError('internal', 'the agent\'s answer is too long'));
      if (chunk.includes(10)) { connection.end(); resolve(Buffer.concat(chunks).toString('utf8')); }
    });
    connection.on('end', () => fail(new UnavailableError('unavailable', `the agent on ${path} closed the connection without an answer`)));
  });
}

// The agent's whole token answer: {accessToken, tokenType, expiresIn, expiresAt, scope}.
export async function getTokenResponse(scopes, options = {}) {
  const path = socketPath(options);
  const line = await ask(path, requestLine(scopes, options), options.timeout ?? DEFAULT_TIMEOUT_MS);
  let answer;
  try { answer = JSON.parse(line); } catch (error) { throw new InternalError('internal', `the agent's answer is not JSON: ${error.message}`); }
  if (answer.ok !== true) throw agentError(String(answer.error ?? 'internal'), String(answer.message ?? 'the agent refused without words'));
  return { accessToken: answer.access_token, tokenType: answer.token_type, expiresIn: answer.expires_in, expiresAt: answer.expires_at, scope: answer.scope };
}

// An access token for `scopes` from the running agent. options: client,
// minTtl (seconds), resource, consumerOrg, issOnbehalfof, pid,
// authorizationDetails, exchange ("altinn"); socket / config (as the CLI's
// --socket / --config); timeout (ms, default 90 000). Rejects with an
// AgentError subclass named for the agent's error code.
export async function getToken(scopes, options = {}) {
  return (await getTokenResponse(scopes, options)).accessToken;
}
