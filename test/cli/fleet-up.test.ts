/**
 * `up`, `suite`, `down` and `diagnose` with --host, end to end: a real sshd host, docker run
 * on it over SSH (the test host's docker is this machine's dockerd, so the model folder lives
 * in a temp folder both see), the server published on the host's 127.0.0.1 and reached by the
 * doctor only through an SSH local forward. The port is never published on another address.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { BIN, runCli, type CliResult } from '../helpers/cli.js';
import { skipDocker, testImage } from '../helpers/docker.js';
import { removeTempDirs, tempDir, writeModelFolder } from '../helpers/model-folder.js';
import { writeHfCache } from '../helpers/hub.js';
import { fleetUnavailable, startFleet, type Fleet } from '../helpers/sshd.js';
import { freePort } from '../helpers/free-port.js';

const SECRET = 'hf_fleetSecretToken777';
const LIMITS = ['--probe-timeout', '120', '--ready-timeout', '300', '--warm-timeout', '300', '--request-timeout', '120'];
const names: string[] = [];
let fleet: Fleet;
let modelDir: string;
let tmp: string;
/** gpu-a's HF_HOME (its login environment says so); a folder the test's docker sees too. */
let hostHfHome: string;

async function inspectState(name: string): Promise<string | null> {
  const result = await execa('docker', ['inspect', '--format', '{{.State.Status}}', name], { reject: false, timeout: 30_000 });
  return result.exitCode === 0 ? result.stdout.trim() : null;
}

function containerName(label: string): string {
  const name = `gd-fleet-${process.pid}-${label}`;
  names.push(name);
  return name;
}

function upArgs(name: string, port: number, ...more: string[]): string[] {
  return ['up', '--host', 'gpu-a', '--cpu', '--image', testImage()!, '--model', 'qwen3guard-gen-4b', '--model-dir', modelDir, '--port', String(port), '--name', name, ...LIMITS, ...more];
}

function run(args: string[], timeoutMs = 600_000): Promise<CliResult> {
  // TMPDIR: the doctor's private SSH socket folder must be gone when it exits.
  return runCli(args, { fakeBin: false, env: { ...fleet.env, TMPDIR: tmp }, timeoutMs });
}

describe.skipIf(skipDocker || fleetUnavailable() !== null)('fleet: up, suite, down, diagnose with --host', () => {
  beforeAll(async () => {
    hostHfHome = await tempDir('gd-fleet-hfhome-');
    fleet = await startFleet([{ alias: 'gpu-a', smi: 'h100', dockerInfo: 'docker-info-20.10-nvidia-runtime.json', env: { HF_HOME: hostHfHome } }]);
    tmp = path.join(fleet.dir, 'tmp');
    await mkdir(tmp);
    modelDir = path.join(await tempDir('gd-fleet-up-'), 'Qwen3Guard-Gen-4B');
    await writeModelFolder(modelDir, { size: '4B', shards: 2 });
  }, 120_000);
  afterAll(async () => {
    for (const name of names) await execa('docker', ['rm', '-f', name], { reject: false, timeout: 30_000 });
    await fleet?.stop();
    await removeTempDirs();
  });

  it('up --host: launched on the host, reached through an SSH forward, warmed and tested; suite, diagnose and down --host follow', async () => {
    const name = containerName('happy');
    const port = await freePort();
    // --metrics-url names the server's port on the host: scraped through the host's forward, reconciled per host
    // (vLLM counts requests, not verdicts, so the verdicts' row is a skip).
    const result = await run([...upArgs(name, port, '--env', `HF_TOKEN=${SECRET}`, '--metrics-url', `http://127.0.0.1:${port}/metrics`), '--host', fleet.dead, '--json']);
    expect(result.stdout + result.stderr).not.toContain(SECRET);
    expect(result.json, result.stderr).toBeDefined();
    const [a, dead] = result.json.hosts;
    expect(a).toMatchObject({ host: 'gpu-a', ok: true, exitCode: 0, launch: { container: name, host: 'gpu-a', url: `http://127.0.0.1:${port}`, sshForward: `ssh -N -L ${port}:127.0.0.1:${port} gpu-a` } });
    expect(a.launch.coldMs).toEqual(expect.any(Number));
    const ids = a.checks.map((c: { id: string; status: string }) => `${c.id}:${c.status}`);
    expect(ids).toEqual(expect.arrayContaining(['host.reachable:pass', 'model.mount:pass', 'port.free:pass', 'container.name:pass', 'server.ready:pass', 'server.warm:pass', 'metrics.reconcile.requests:pass', 'metrics.reconcile.verdicts:skip']));
    expect(dead.checks.map((c: { id: string }) => c.id)).not.toContain('metrics.reconcile.requests');
    expect(a.cases.length).toBeGreaterThan(10);
    expect(a.cases.every((c: { status: string }) => c.status === 'pass' || c.status === 'skip')).toBe(true);
    expect(dead).toMatchObject({ host: fleet.dead, exitCode: 3 });
    // Fleet rule: nothing failed, one host could not be judged.
    expect(result.exitCode).toBe(3);

    // It runs on the host's docker, published on loopback only, with the secret in its environment.
    expect(await inspectState(name)).toBe('running');
    const inspect = JSON.parse((await execa('docker', ['inspect', name])).stdout)[0];
    expect(inspect.HostConfig.PortBindings['8000/tcp']).toEqual([{ HostIp: '127.0.0.1', HostPort: String(port) }]);
    expect(inspect.Config.Env).toContain(`HF_TOKEN=${SECRET}`);
    expect(await readdir(tmp)).toEqual([]);

    // suite --host: the URL as the host sees it, reached through a forward.
    const suite = await run(['suite', '--host', 'gpu-a', '--url', `http://127.0.0.1:${port}`, '--metrics-url', `http://localhost:${port}/metrics`, '--json', ...LIMITS.slice(-2)]);
    expect(suite.json.hosts[0]).toMatchObject({ host: 'gpu-a', exitCode: 0 });
    expect(suite.json.hosts[0].checks.map((c: { id: string; status: string }) => `${c.id}:${c.status}`)).toEqual(expect.arrayContaining(['metrics.reconcile.requests:pass', 'metrics.reconcile.verdicts:skip']));
    expect(suite.json.hosts[0].cases.length).toBeGreaterThan(10);
    expect(suite.exitCode).toBe(0);

    // diagnose --host H --container NAME reads that host's container.
    const diag = await run(['diagnose', '--host', 'gpu-a', '--container', name, '--json']);
    expect(diag.json.hosts[0]).toMatchObject({ host: 'gpu-a', container: name, findings: [], exitCode: 0 });
    expect(diag.exitCode).toBe(0);

    // down --host removes it there.
    const down = await run(['down', '--host', 'gpu-a', '--name', name, '--json']);
    expect(down.json.hosts[0]).toMatchObject({ host: 'gpu-a', exitCode: 0, removed: true, wasRunning: true });
    expect(await inspectState(name)).toBeNull();
    const again = await run(['down', '--host', 'gpu-a', '--name', name]);
    expect(again.exitCode).toBe(1);
    expect(again.stdout).toContain(`no container named ${name}; nothing was stopped`);
  }, 1_200_000);

  it('human output says per host how to reach the server (the ssh -L line) and how to stop it', async () => {
    const name = containerName('reach');
    const port = await freePort();
    const result = await run(upArgs(name, port, '--no-suite'));
    expect(result.exitCode, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('── gpu-a ──');
    expect(result.stdout).toContain(`The server is running on gpu-a at http://127.0.0.1:${port} (container ${name})`);
    expect(result.stdout).toContain(`reach it: ssh -N -L ${port}:127.0.0.1:${port} gpu-a   then http://127.0.0.1:${port}`);
    expect(result.stdout).toContain(`stop it:  guard-doctor down --host gpu-a --name ${name}`);
    expect(result.stdout).toMatch(/✓ gpu-a\s+ok exit 0/);
  }, 900_000);

  it('up --host --metrics-url on a port where nothing listens on the host: the reconciliation is an error naming that URL, never a pass', async () => {
    const name = containerName('metrics-dead');
    const port = await freePort();
    const deadPort = await freePort();
    const metricsUrl = `http://127.0.0.1:${deadPort}/metrics`;
    const result = await run([...upArgs(name, port, '--metrics-url', metricsUrl, '--tag', 'baseline'), '--json']);
    const [a] = result.json.hosts;
    const reconcile = a.checks.filter((c: { id: string }) => c.id.startsWith('metrics.reconcile.'));
    expect(reconcile.map((c: { status: string }) => c.status)).toEqual(['error', 'error']);
    // Named as the user gave it, on its host, not as the doctor's local end of the forward.
    expect(reconcile[0].summary).toContain(`could not scrape ${metricsUrl} on gpu-a (through an SSH forward) before the suite`);
    expect(a.exitCode).toBe(3);
    expect(result.exitCode).toBe(3);
  }, 900_000);

  it('up --host --source hf: the host\'s own cache (its HF_HOME) is judged and mounted, not this machine\'s', async () => {
    await writeHfCache(hostHfHome, { size: '4B' });
    const localHome = await tempDir('gd-fleet-localhf-');
    const name = containerName('hub');
    const port = await freePort();
    const result = await runCli(['up', '--host', 'gpu-a', '--cpu', '--image', testImage()!, '--model', 'qwen3guard-gen-4b', '--port', String(port), '--name', name, '--no-suite', '--json', ...LIMITS], {
      fakeBin: false,
      env: { ...fleet.env, TMPDIR: tmp, HF_HOME: localHome, HF_HUB_OFFLINE: '1', HF_TOKEN: SECRET },
      timeoutMs: 600_000,
    });
    expect(result.stdout + result.stderr).not.toContain(SECRET);
    const [a] = result.json.hosts;
    expect(a.exitCode, JSON.stringify(a.checks)).toBe(0);
    const source = a.checks.find((c: { id: string }) => c.id === 'model.source');
    expect(source.summary).toContain(`Qwen/Qwen3Guard-Gen-4B is complete in the cache (${hostHfHome}/hub/models--Qwen--Qwen3Guard-Gen-4B/snapshots/`);
    expect(source.measured).toMatchObject({ cacheDir: `${hostHfHome}/hub` });
    const inspect = JSON.parse((await execa('docker', ['inspect', name])).stdout)[0];
    expect(inspect.Mounts).toContainEqual(expect.objectContaining({ Source: hostHfHome, Destination: '/root/.cache/huggingface', RW: true }));
    expect(inspect.Mounts.map((m: { Source: string }) => m.Source)).not.toContain(localHome);
    expect(inspect.Config.Cmd.slice(0, 1)).toEqual(['Qwen/Qwen3Guard-Gen-4B']);
  }, 900_000);

  it('Ctrl-C removes only the container this run started, closes the tunnels and the SSH connections', async () => {
    const bystander = containerName('bystander');
    await execa('docker', ['run', '-d', '--name', bystander, testImage()!], { timeout: 60_000 });
    const name = containerName('sigint');
    const port = await freePort();
    const child = execa(process.execPath, [BIN, ...upArgs(name, port, '--env', 'GUARD_LOAD_MS=600000')], {
      env: { NO_COLOR: '1', CI: '', ...fleet.env, TMPDIR: tmp },
      reject: false,
      timeout: 900_000,
    });
    const until = Date.now() + 600_000;
    while ((await inspectState(name)) !== 'running' && Date.now() < until) await new Promise((r) => setTimeout(r, 1000));
    expect(await inspectState(name)).toBe('running');
    child.kill('SIGINT');
    const result = await child;
    expect(result.exitCode).toBe(130);
    expect(`${result.stdout}`).toContain(`interrupted; removed the container ${name} this run started on gpu-a`);
    expect(await inspectState(name)).toBeNull();
    expect(await inspectState(bystander)).not.toBeNull();
    expect(await readdir(tmp)).toEqual([]);
  }, 1_200_000);
});
