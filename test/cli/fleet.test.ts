/**
 * The fleet as a user runs it: `guard-doctor check --host ... --model-dir /srv/models/...`
 * against real sshd hosts that differ (test/helpers/sshd.ts): their own nvidia-smi, their own
 * model folder at the same path, one whose sshd refuses the key, one port where nothing
 * listens. This machine has no nvidia-smi on the doctor's PATH and nothing at /srv/models, so
 * a doctor that probed locally would fail every assertion below.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { runCli, type CliResult } from '../helpers/cli.js';
import { fleetUnavailable, HOST_MODELS, startFleet, type Fleet } from '../helpers/sshd.js';
import { LFS_POINTER_TEXT, writeModelFolder } from '../helpers/model-folder.js';

const skip = fleetUnavailable();
const MODEL_DIR = `${HOST_MODELS}/Qwen3Guard-Gen-8B`;
// The machine running the tests is shared and slow at times; these limits are the doctor's, not timings.
const LIMITS = ['--probe-timeout', '300'];
let fleet: Fleet;

function run(args: string[], extraEnv: Record<string, string> = {}): Promise<CliResult> {
  // No fake nvidia-smi here: only the hosts have one.
  return runCli([...args, ...LIMITS], { fakeBin: false, env: { ...fleet.env, ...extraEnv }, timeoutMs: 800_000 });
}

type Entry = { host: string; ok: boolean; exitCode: number; checks: Array<{ id: string; status: string; summary: string; fix?: string }> };
const byHost = (result: CliResult) => Object.fromEntries((result.json.hosts as Entry[]).map((h) => [h.host, h]));
const check = (entry: Entry | undefined, id: string) => entry?.checks.find((c) => c.id === id);

describe.skipIf(skip !== null)('fleet: check --host over real SSH', () => {
  beforeAll(async () => {
    fleet = await startFleet([
      { alias: 'gpu-a', smi: 'h100', dockerInfo: 'docker-info-20.10-nvidia-runtime.json' },
      { alias: 'gpu-b', smi: 'rtx3090', dockerInfo: 'docker-info-20.10-nvidia-runtime.json' },
      { alias: 'gpu-c', smi: 'no-driver', dockerInfo: 'docker-info-20.10-nvidia-runtime.json' },
      { alias: 'gpu-d', smi: 'h100', dockerInfo: 'docker-info-20.10-nvidia-runtime.json' },
    ]);
    await writeModelFolder(path.join(fleet.hosts['gpu-a']!.modelsDir, 'Qwen3Guard-Gen-8B'), { shards: 3 });
    await writeModelFolder(path.join(fleet.hosts['gpu-d']!.modelsDir, 'Qwen3Guard-Gen-8B'), { shards: 3 });
    // gpu-b: a git clone whose weights were never pulled: the shards are Git LFS pointers.
    const b = await writeModelFolder(path.join(fleet.hosts['gpu-b']!.modelsDir, 'Qwen3Guard-Gen-8B'), { shards: 2 });
    for (const shard of b.shardNames) await writeFile(path.join(b.dir, shard), LFS_POINTER_TEXT('b'.repeat(64), 3_963_750_880));
    // gpu-c: no model folder at all.
  }, 120_000);
  afterAll(async () => fleet?.stop());

  it('the local machine has neither nvidia-smi nor the model folder the hosts have', () => {
    expect(existsSync(MODEL_DIR)).toBe(false);
    expect((process.env.PATH ?? '').split(':').some((d) => d !== '' && existsSync(path.join(d, 'nvidia-smi')))).toBe(false);
  });

  it('judges each host from its own facts; unreachable hosts are host.reachable errors with ssh\'s words; JUnit, Prometheus and GitHub name the host', async () => {
    const junit = path.join(fleet.dir, 'fleet.xml');
    const prom = path.join(fleet.dir, 'fleet.prom');
    const result = await run(
      ['check', '--json', '--parallel', '3', '--host', 'gpu-a', '--host', 'gpu-b', '--host', 'gpu-c', '--host', fleet.refusing, '--host', fleet.dead, '--model-dir', MODEL_DIR, '--junit', junit, '--prom-file', prom],
      { GITHUB_ACTIONS: 'true' },
    );
    expect(result.json, result.stderr).toBeDefined();
    expect(result.json).toMatchObject({ schemaVersion: 1, tool: 'guard-doctor', command: 'check', ok: false, exitCode: 1 });
    expect(result.json.checks).toBeUndefined();
    expect((result.json.hosts as Entry[]).map((h) => h.host)).toEqual(['gpu-a', 'gpu-b', 'gpu-c', fleet.refusing, fleet.dead]);
    const hosts = byHost(result);
    const seen = JSON.stringify(result.json.hosts, null, 1);

    // gpu-a: an H100 with the model in place.
    expect(check(hosts['gpu-a'], 'host.reachable')?.status, seen).toBe('pass');
    expect(check(hosts['gpu-a'], 'gpu.vram'), seen).toMatchObject({ status: 'pass' });
    expect(check(hosts['gpu-a'], 'gpu.vram')!.summary, seen).toContain('GPU 0');
    expect(check(hosts['gpu-a'], 'gpu.compute-capability')!.summary, seen).toContain('9.0');
    expect(check(hosts['gpu-a'], 'docker.gpu')?.status, seen).toBe('pass');
    expect(check(hosts['gpu-a'], 'model.mount'), seen).toMatchObject({ status: 'pass', summary: `/models/Qwen3Guard-Gen-8B -> ${MODEL_DIR} (exact case; config.json and 3 weight files there)` });
    expect(check(hosts['gpu-a'], 'model.files')?.status, seen).toBe('pass');

    // gpu-b: an RTX 3090 (too little memory for 8B) and weights that were never downloaded.
    expect(check(hosts['gpu-b'], 'gpu.vram'), seen).toMatchObject({ status: 'fail', summary: 'GPU 0 has 22.1 GiB free of 24 GiB; Qwen3Guard-Gen-8B needs at least 26 GiB at --max-model-len 32768' });
    expect(check(hosts['gpu-b'], 'model.mount')!.status, seen).toBe('pass');
    expect(check(hosts['gpu-b'], 'model.files')!.status, seen).toBe('fail');
    expect(check(hosts['gpu-b'], 'model.files')!.summary, seen).toContain('2 files are Git LFS pointers, not the real data');
    expect(hosts['gpu-b']!.exitCode).toBe(1);

    // gpu-c: nvidia-smi there cannot talk to the driver, and the folder does not exist there.
    expect(check(hosts['gpu-c'], 'gpu.driver')!.status, seen).toBe('fail');
    expect(check(hosts['gpu-c'], 'gpu.driver')!.summary, seen).toMatch(/NVIDIA-SMI has failed|driver/i);
    expect(check(hosts['gpu-c'], 'model.mount')!.status, seen).toBe('fail');
    expect(check(hosts['gpu-c'], 'model.mount')!.summary, seen).toContain('does not exist');

    // The host refusing the key and the dead port: ssh's own words, exit 3 each, never a prompt.
    expect(hosts[fleet.refusing]!.checks).toEqual([expect.objectContaining({ id: 'host.reachable', status: 'error' })]);
    expect(check(hosts[fleet.refusing], 'host.reachable')!.summary).toContain('Permission denied (publickey)');
    expect(check(hosts[fleet.dead], 'host.reachable')!.summary).toMatch(/ssh: connect to host 127\.0\.0\.1 port \d+: Connection refused/);
    expect(hosts[fleet.dead]!.exitCode).toBe(3);

    // The summary counts every host's results.
    const total = (result.json.hosts as Array<{ summary: Record<string, number> }>).reduce((n, h) => n + (h.summary.fail ?? 0), 0);
    expect(result.json.summary.fail).toBe(total);
    expect(result.exitCode).toBe(1);

    // JUnit: one testsuite per host, named by the host.
    const xml = await readFile(junit, 'utf8');
    expect(xml).toMatch(/<testsuite name="gpu-b" tests="\d+" failures="[1-9]/);
    expect(xml).toContain(`<testsuite name="${fleet.dead}" tests="1" failures="0" errors="1"`);
    // Prometheus textfile: every series carries the host.
    const text = await readFile(prom, 'utf8');
    expect(text).toContain('guard_doctor_check_status{host="gpu-b",command="check",check="gpu.vram",status="fail"} 1');
    expect(text).toContain(`guard_doctor_exit_code{host="${fleet.dead}",command="check"} 3`);
    // GitHub annotations (on stderr under --json) name the host.
    expect(result.stderr).toMatch(/::error title=guard-doctor gpu-b%3A gpu\.vram::GPU 0 has 22\.1 GiB free/);
  }, 900_000);

  it('human output: a section per host, then one fleet table folding hosts that agree', async () => {
    const result = await run(['check', '--host', 'gpu-a', '--host', 'gpu-d', '--host', 'gpu-b', '--host', fleet.dead, '--model-dir', MODEL_DIR]);
    const out = result.stdout;
    for (const h of ['gpu-a', 'gpu-d', 'gpu-b', fleet.dead]) expect(out).toContain(`── ${h} ──`);
    expect(out).toMatch(/Fleet: 4 hosts/);
    const table = out.slice(out.indexOf('Fleet: 4 hosts'));
    expect(out.indexOf('── gpu-a ──')).toBeLessThan(out.indexOf('Fleet: 4 hosts'));
    // gpu-a and gpu-d have the same verdict: one row.
    expect(table).toMatch(/gpu-a, gpu-d\s+/);
    expect(table).toMatch(/✗ gpu-b\s+failed: .*gpu\.vram.*model\.files.* exit 1/);
    expect(table).toMatch(new RegExp(`\\? ${fleet.dead}\\s+could not tell: host\\.reachable exit 3`));
    expect(result.exitCode).toBe(1);
  }, 900_000);

  it('nothing in a path runs on the host: spaces, quotes, $(...), backticks and non-ASCII stay data', async () => {
    const marker = path.join(fleet.dir, 'pwned');
    const odd = `odd dir $(touch ${marker}1) \`touch ${marker}2\` 'q' "d" é ü 模型`;
    await mkdir(path.join(fleet.hosts['gpu-a']!.modelsDir, odd), { recursive: true });
    await writeModelFolder(path.join(fleet.hosts['gpu-a']!.modelsDir, odd, 'Qwen3Guard-Gen-8B'), { shards: 2 });
    const remotePath = `${HOST_MODELS}/${odd}/Qwen3Guard-Gen-8B`;
    const result = await run(['check', '--json', '--host', 'gpu-a', '--model-dir', remotePath]);
    const a = byHost(result)['gpu-a'];
    expect(check(a, 'model.mount')).toMatchObject({ status: 'pass', summary: `/models/Qwen3Guard-Gen-8B -> ${remotePath} (exact case; config.json and 2 weight files there)` });
    expect(check(a, 'model.files')?.status).toBe('pass');
    expect(existsSync(`${marker}1`)).toBe(false);
    expect(existsSync(`${marker}2`)).toBe(false);
  }, 900_000);

  it('bad input exits 2 naming the option, before any host is contacted', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--host', ''], /--host: empty target/],
      [['--host', '-oProxyCommand=touch /tmp/x'], /--host: "-oProxyCommand=touch \/tmp\/x" starts with "-"/],
      [['--host', 'user@host:99999'], /--host: "user@host:99999" has an invalid port/],
      [['--host', 'bad host'], /--host: "bad host" has no valid host name/],
      [['--hosts', path.join(fleet.dir, 'no-such-file')], /--hosts: cannot read .*no-such-file: it does not exist/],
      [['--host', 'gpu-a', '--parallel', '0'], /--parallel: "0" is not valid/],
      [['--host', 'gpu-a', '--model-dir', 'relative/dir'], /--model-dir: "relative\/dir" is relative; with --host it is a path on each host/],
    ];
    for (const [args, message] of cases) {
      const result = await run(['check', ...args]);
      expect(result.exitCode, args.join(' ')).toBe(2);
      expect(result.stderr).toMatch(message);
      expect(result.stdout).toBe('');
      expect(result.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
    }
  }, 900_000);

  it('--hosts FILE: one target per line, comments and blank lines ignored', async () => {
    const file = path.join(fleet.dir, 'hosts.txt');
    await writeFile(file, `# the GPU pool\n${fleet.refusing}\n\n  ${fleet.dead}  \n`);
    const result = await run(['check', '--json', '--hosts', file, '--host', fleet.dead, '--model-dir', MODEL_DIR]);
    // In order, duplicates once; both are unreachable: exit 3 (could not tell).
    expect((result.json.hosts as Entry[]).map((h) => h.host)).toEqual([fleet.dead, fleet.refusing]);
    expect(result.exitCode).toBe(3);
  }, 900_000);

  it('DOCKER_HOST=ssh://... is noticed: the doctor judges that host, not this machine', async () => {
    const port = fleet.hosts['gpu-b']!.port;
    const result = await run(['check', '--json', '--model-dir', MODEL_DIR], { DOCKER_HOST: `ssh://gpu-b` });
    expect(result.json.hosts?.[0]?.host, result.stderr).toBe('ssh://gpu-b');
    expect(check(result.json.hosts[0], 'gpu.vram')!.summary).toContain('22.1 GiB free of 24 GiB');
    expect(result.json.note).toContain('DOCKER_HOST=ssh://gpu-b');
    expect(port).toBeGreaterThan(0);
  }, 900_000);

  it('DOCKER_HOST=tcp://another-machine: docker.host fails, saying the verdicts describe this machine', async () => {
    const result = await runCli(['check', '--json', '--cpu'], { env: { DOCKER_HOST: 'tcp://10.11.12.13:2376' }, timeoutMs: 120_000 });
    const entry = (result.json.checks as Entry['checks']).find((c) => c.id === 'docker.host');
    expect(entry).toMatchObject({ status: 'fail' });
    expect(entry!.summary).toContain('DOCKER_HOST points docker at tcp://10.11.12.13:2376');
    expect(result.exitCode).toBe(1);
  }, 120_000);
});
