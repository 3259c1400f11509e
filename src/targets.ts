/**
 * Which hosts a run acts on: `--host TARGET` (repeatable), `--hosts FILE`, or, when neither is
 * given, the machine Docker itself points at (DOCKER_HOST or the current docker context) when
 * that is another machine. Kept free of process-starting code: settings read it on every run.
 */
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { UsageError } from './errors.js';

/** `[ssh://][user@]host[:port]` or an ssh config alias, as the user gave it and as ssh takes it. */
export interface SshTarget {
  /** As given (the label in reports). */
  raw: string;
  /** `user@host` or `host`, handed to ssh after `--`. */
  destination: string;
  port: number | null;
}

const HOST_NAME = /^(?:[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?|\[[0-9A-Fa-f:.]+\])$/;
const USER_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/** Parse one TARGET; `option` names where it came from for the error (`--host`, `--hosts FILE line 3`). */
export function parseTarget(input: string, option: string): SshTarget {
  const raw = input.trim();
  const example = `give [ssh://][user@]host[:port] or a Host alias of your ssh config, e.g. ${option.startsWith('--hosts') ? 'gpu1.example.com' : '--host gpu1'}`;
  if (raw === '') throw new UsageError(`${option}: empty target; ${example}`);
  if (raw.startsWith('-')) throw new UsageError(`${option}: "${raw}" starts with "-" and would be read as an ssh option; ${example}`);
  const rest = raw.startsWith('ssh://') ? raw.slice('ssh://'.length).replace(/\/$/, '') : raw;
  const match = /^(?:([^@]*)@)?(\[[^\]]*\]|[^:@]*)(?::([^:]*))?$/.exec(rest);
  if (!match) throw new UsageError(`${option}: "${raw}" is not a valid target; ${example}`);
  const [, user, host = '', portText] = match;
  if (user !== undefined && !USER_NAME.test(user)) throw new UsageError(`${option}: "${raw}" has an invalid user name "${user}"; ${example}`);
  if (!HOST_NAME.test(host)) throw new UsageError(`${option}: "${raw}" has no valid host name${host ? ` ("${host}")` : ''}; ${example}`);
  let port: number | null = null;
  if (portText !== undefined) {
    port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`${option}: "${raw}" has an invalid port "${portText}"; give a port from 1 to 65535`);
  }
  const bareHost = host.startsWith('[') ? host.slice(1, -1) : host;
  return { raw, destination: user !== undefined ? `${user}@${bareHost}` : bareHost, port };
}

/** The targets of `--host` (repeatable) and `--hosts FILE`, in order, duplicates dropped. */
export function readTargets(hosts: readonly string[], hostsFile: string | null): SshTarget[] {
  const targets = hosts.map((h) => parseTarget(h, '--host'));
  if (hostsFile !== null) {
    let text: string;
    try {
      text = readFileSync(hostsFile, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'it does not exist' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a folder' : String((error as Error).message);
      throw new UsageError(`--hosts: cannot read ${hostsFile}: ${why}. Give a file with one [user@]host[:port] per line`);
    }
    text.split(/\r?\n/).forEach((line, i) => {
      const trimmed = line.trim();
      if (trimmed === '' || trimmed.startsWith('#')) return;
      targets.push(parseTarget(trimmed, `--hosts ${hostsFile} line ${i + 1}`));
    });
    if (targets.length === 0 && hosts.length === 0) throw new UsageError(`--hosts: ${hostsFile} names no host (only blank lines and # comments); give one [user@]host[:port] per line`);
  }
  const seen = new Set<string>();
  return targets.filter((t) => (seen.has(t.raw) ? false : (seen.add(t.raw), true)));
}

/** Where the docker CLI sends its commands, when that is not this machine's own socket. */
export interface DockerEndpoint {
  /** `DOCKER_HOST` or `docker context "NAME"`. */
  source: string;
  host: string;
}

/**
 * The daemon the docker CLI talks to: DOCKER_HOST, else DOCKER_CONTEXT or the config's
 * currentContext (its endpoint in ~/.docker/contexts/meta/<sha256 of name>/meta.json).
 * null when it is this machine's socket (unix://, npipe://, or nothing set).
 */
export function dockerEndpoint(env: NodeJS.ProcessEnv = process.env): DockerEndpoint | null {
  const isLocal = (h: string) => h === '' || h.startsWith('unix://') || h.startsWith('npipe://') || h.startsWith('fd://');
  const fromEnv = env.DOCKER_HOST ?? '';
  if (fromEnv !== '') return isLocal(fromEnv) ? null : { source: 'DOCKER_HOST', host: fromEnv };
  const configDir = env.DOCKER_CONFIG || path.join(os.homedir(), '.docker');
  let context = env.DOCKER_CONTEXT ?? '';
  if (context === '') {
    try {
      const config = JSON.parse(readFileSync(path.join(configDir, 'config.json'), 'utf8')) as { currentContext?: unknown };
      context = typeof config.currentContext === 'string' ? config.currentContext : '';
    } catch {
      return null;
    }
  }
  if (context === '' || context === 'default') return null;
  try {
    const id = createHash('sha256').update(context).digest('hex');
    const meta = JSON.parse(readFileSync(path.join(configDir, 'contexts', 'meta', id, 'meta.json'), 'utf8')) as { Endpoints?: { docker?: { Host?: unknown } } };
    const host = meta.Endpoints?.docker?.Host;
    return typeof host === 'string' && !isLocal(host) ? { source: `docker context "${context}"`, host } : null;
  } catch {
    return null;
  }
}

/** `ssh://user@host:port` -> the SSH target it names (Docker's own ssh transport), else null. */
export function sshTargetOf(endpoint: DockerEndpoint): SshTarget | null {
  if (!endpoint.host.startsWith('ssh://')) return null;
  try {
    return parseTarget(endpoint.host, endpoint.source);
  } catch {
    return null;
  }
}

/** A tcp:// endpoint on a loopback address is this machine after all. */
export function endpointIsLoopback(endpoint: DockerEndpoint): boolean {
  return /^tcp:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?\/?$/.test(endpoint.host);
}
