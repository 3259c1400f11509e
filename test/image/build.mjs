#!/usr/bin/env node
/**
 * Builds the test image `guard-doctor-test/guard-server:dev-<inputs hash>` without pulling anything,
 * for Docker (`docker import`) or Podman (`podman import`, which stores it as `localhost/...`):
 * a root file system made in a temp folder from the node binary running this script, the
 * shared libraries `ldd` lists for it, and `test/server/*.mjs` under /app, turned into an
 * image with `docker import`. It carries the CUDA_VERSION / TORCH_CUDA_ARCH_LIST a real
 * vLLM image carries, and an ENTRYPOINT, so `docker run IMAGE --model ... --max-model-len ...`
 * hands the arguments to the stand-in server just as the real image hands them to vLLM.
 *
 * The tag and a label carry a hash of its inputs, so it is rebuilt only when they change, and
 * two checkouts with different stand-in servers (worktrees, branches) never replace each
 * other's image in the middle of a test run.
 * Usage: node test/image/build.mjs [--force] [--podman]   (prints the image ref)
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fs, realpathSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const TEST_IMAGE_REPO = 'guard-doctor-test/guard-server';
const imageRef = (hash) => `${TEST_IMAGE_REPO}:dev-${hash.slice(0, 12)}`;
/** Tags of other inputs older than this are removed after a build. */
const OLD_TAG_MS = 24 * 3600 * 1000;
export const INPUTS_LABEL = 'guard-doctor.test-image.inputs';
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SERVER_DIR = path.join(ROOT, 'test', 'server');
const SERVER_ENTRY = 'guard-server.mjs';

/**
 * What a real vllm/vllm-openai image says about itself (FACTS.md: images built on NVIDIA's
 * CUDA bases carry CUDA_VERSION; vLLM images carry TORCH_CUDA_ARCH_LIST).
 */
export const IMAGE_CUDA_VERSION = '12.4.1';
export const IMAGE_TORCH_CUDA_ARCH_LIST = '8.0 8.6 8.9 9.0+PTX';

const CHANGES = [
  'ENV PATH=/usr/local/bin:/usr/bin:/bin',
  `ENV CUDA_VERSION=${IMAGE_CUDA_VERSION}`,
  `ENV TORCH_CUDA_ARCH_LIST="${IMAGE_TORCH_CUDA_ARCH_LIST}"`,
  'WORKDIR /app',
  // One port per EXPOSE: podman import refuses "EXPOSE 8000 7860" (EXPOSE port must be an integer).
  'EXPOSE 8000',
  'EXPOSE 7860',
  'ENTRYPOINT ["/usr/local/bin/node","/app/guard-server.mjs"]',
];

const DOCKER_TIMEOUT_MS = 120_000;
const LOCK_WAIT_MS = 240_000;
const LOCK_STALE_MS = 180_000;

/** Runs a program with an argument array (never a shell) and a time limit. */
export function exec(command, args, timeoutMs = DOCKER_TIMEOUT_MS, env = process.env) {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024, env }, (error, stdout, stderr) => {
      resolve({
        ok: !error,
        code: error ? (typeof error.code === 'number' ? error.code : null) : 0,
        notFound: error?.code === 'ENOENT',
        timedOut: Boolean(error?.killed),
        stdout: String(stdout),
        stderr: String(stderr),
      });
    });
  });
}

function why(result, what) {
  if (result.notFound) return `${what}: the program is not installed`;
  if (result.timedOut) return `${what}: no answer within the time limit`;
  return `${what} failed: ${(result.stderr.trim() || result.stdout.trim()).split('\n').slice(-3).join(' ')}`;
}

/** Does a Docker daemon answer? Returns null when it does, else the CLI's own words. */
export async function dockerProblem() {
  return runtimeProblem('docker');
}

/** Does the runtime answer (docker: its daemon; podman: `podman version`)? null when it does. */
export async function runtimeProblem(runtime, env = process.env) {
  const args = runtime === 'podman' ? ['version', '--format', '{{.Client.Version}}'] : ['version', '--format', '{{.Server.Version}}'];
  const result = await exec(runtime, args, 20_000, env);
  if (result.ok && result.stdout.trim()) return null;
  if (result.notFound) return `the ${runtime} CLI is not installed`;
  if (result.timedOut) return `${runtime} did not answer within 20 s`;
  return (result.stderr.trim() || result.stdout.trim() || `${runtime} exited with code ${result.code}`).split('\n').slice(-2).join(' ');
}

async function serverFiles() {
  let names;
  try {
    names = (await fs.readdir(SERVER_DIR)).filter((n) => n.endsWith('.mjs')).sort();
  } catch {
    names = [];
  }
  return names.map((name) => path.join(SERVER_DIR, name));
}

/** The shared libraries the dynamic loader needs for `binary`, as absolute paths. */
async function sharedLibraries(binary) {
  const result = await exec('ldd', [binary], 20_000);
  if (!result.ok) {
    // A static binary makes ldd say "not a dynamic executable" and exit 1: nothing to copy.
    if (/not a dynamic executable|statically linked/.test(result.stdout + result.stderr)) return [];
    throw new Error(why(result, `ldd ${binary}`));
  }
  const libraries = [];
  for (const line of result.stdout.split('\n')) {
    // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)"
    const match = /(?:=>\s*)?(\/\S+)\s+\(0x[0-9a-f]+\)/.exec(line);
    if (match?.[1]) libraries.push(match[1]);
    else if (/=>\s*not found/.test(line)) throw new Error(`ldd ${binary}: ${line.trim()}`);
  }
  return libraries;
}

async function inputsHash(nodeBinary, files) {
  const hash = createHash('sha256');
  hash.update(`build-script\0${await fs.readFile(fileURLToPath(import.meta.url))}\0`);
  const stat = await fs.stat(nodeBinary);
  hash.update(`node\0${nodeBinary}\0${process.version}\0${process.arch}\0${stat.size}\0${stat.mtimeMs}\0`);
  for (const file of files) hash.update(`${path.basename(file)}\0${await fs.readFile(file)}\0`);
  hash.update(CHANGES.join('\n'));
  return hash.digest('hex').slice(0, 24);
}

async function imageLabel(runtime, ref, env) {
  const result = await exec(runtime, ['image', 'inspect', '--format', `{{.Id}} {{index .Config.Labels "${INPUTS_LABEL}"}}`, ref], 30_000, env);
  if (!result.ok) return null;
  const [, label] = result.stdout.trim().split(' ');
  return { label: label ?? '' };
}

/** One builder at a time across processes (several test runs may start at once). */
async function withLock(runtime, fn) {
  const lockDir = path.join(os.tmpdir(), `guard-doctor-test-image${runtime === 'docker' ? '' : `-${runtime}`}.lock`);
  const started = Date.now();
  for (;;) {
    try {
      await fs.mkdir(lockDir);
      await fs.writeFile(path.join(lockDir, 'pid'), String(process.pid));
      break;
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
      const stat = await fs.stat(lockDir).catch(() => null);
      const holder = Number(await fs.readFile(path.join(lockDir, 'pid'), 'utf8').catch(() => ''));
      // A builder killed mid-way (Ctrl-C) leaves its lock behind; its pid is gone.
      if ((holder > 0 && !isAlive(holder)) || (stat && Date.now() - stat.mtimeMs > LOCK_STALE_MS)) {
        await fs.rm(lockDir, { recursive: true, force: true });
        continue;
      }
      if (Date.now() - started > LOCK_WAIT_MS) throw new Error(`another build of the test image holds ${lockDir} for over ${LOCK_WAIT_MS / 1000} s; remove it if no build is running`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    return await fn();
  } finally {
    await fs.rm(lockDir, { recursive: true, force: true });
  }
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

async function copyInto(rootfs, source, target = source) {
  const destination = path.join(rootfs, target);
  await fs.mkdir(path.dirname(destination), { recursive: true });
  // Symlinks resolved: the image gets the real file under the name the loader asks for.
  await fs.copyFile(realpathSync(source), destination);
  const mode = (await fs.stat(source)).mode & 0o777;
  await fs.chmod(destination, mode | 0o444);
}

/**
 * Build the image unless one with the same inputs exists. Returns the ref, whether it was
 * built now, and the inputs hash.
 */
export async function buildTestImage({ force = false, log = () => {}, runtime = 'docker', env = process.env } = {}) {
  const problem = await runtimeProblem(runtime, env);
  if (problem) throw new Error(`${runtime === 'docker' ? 'Docker' : 'Podman'} does not answer: ${problem}`);

  const nodeBinary = realpathSync(process.execPath);
  const files = await serverFiles();
  if (!files.some((f) => path.basename(f) === SERVER_ENTRY)) {
    log(`warning: ${path.join(SERVER_DIR, SERVER_ENTRY)} does not exist yet; the image will be built without it`);
  }
  const hash = await inputsHash(nodeBinary, files);

  return withLock(runtime, async () => {
    const ref = imageRef(hash);
    const existing = await imageLabel(runtime, ref, env);
    if (!force && existing?.label === hash) return { ref, built: false, hash };

    log(`building ${ref} for ${runtime} (inputs ${hash}) from ${nodeBinary} and ${files.length} file(s) in test/server`);
    const work = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-doctor-image-'));
    try {
      const rootfs = path.join(work, 'rootfs');
      await copyInto(rootfs, nodeBinary, '/usr/local/bin/node');
      for (const library of await sharedLibraries(nodeBinary)) await copyInto(rootfs, library);
      for (const file of files) await copyInto(rootfs, file, path.posix.join('/app', path.basename(file)));
      for (const dir of ['tmp', 'models', 'etc']) await fs.mkdir(path.join(rootfs, dir), { recursive: true });
      await fs.chmod(path.join(rootfs, 'tmp'), 0o1777);
      // Node looks names up (localhost) through these; an empty /etc makes getaddrinfo fail.
      await fs.writeFile(path.join(rootfs, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n');
      await fs.writeFile(path.join(rootfs, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');
      await fs.writeFile(path.join(rootfs, 'etc', 'nsswitch.conf'), 'passwd: files\ngroup: files\nhosts: files dns\n');

      const tarball = path.join(work, 'rootfs.tar');
      const tar = await exec('tar', ['-C', rootfs, '--owner=0', '--group=0', '--numeric-owner', '-cf', tarball, '.'], 120_000);
      if (!tar.ok) throw new Error(why(tar, 'tar'));

      const args = ['import'];
      for (const change of [...CHANGES, `LABEL ${INPUTS_LABEL}=${hash}`]) args.push('--change', change);
      args.push('--message', 'guard-doctor test image (stand-in guard server)', tarball, ref);
      const imported = await exec(runtime, args, DOCKER_TIMEOUT_MS, env);
      if (!imported.ok) throw new Error(why(imported, `${runtime} import`));

      // Earlier builds are now untagged; drop those no container still uses (rm refuses those).
      const stale = await exec(runtime, ['images', '--quiet', '--no-trunc', '--filter', 'dangling=true', '--filter', `label=${INPUTS_LABEL}`], 30_000, env);
      const staleIds = stale.ok ? stale.stdout.split('\n').map((id) => id.trim()).filter(Boolean) : [];
      if (staleIds.length > 0) await exec(runtime, ['image', 'rm', ...staleIds], 60_000, env);
      const tags = await exec(runtime, ['images', '--format', '{{.Repository}}:{{.Tag}}\t{{.CreatedAt}}', TEST_IMAGE_REPO], 30_000, env);
      const old = (tags.ok ? tags.stdout.split('\n') : [])
        .map((line) => line.split('\t'))
        .filter(([tag, created]) => tag && tag !== ref && Date.now() - Date.parse(String(created).replace(/ [A-Z]+$/, '')) > OLD_TAG_MS)
        .map(([tag]) => tag);
      if (old.length > 0) await exec(runtime, ['image', 'rm', ...old], 60_000, env);
      return { ref, built: true, hash };
    } finally {
      await fs.rm(work, { recursive: true, force: true });
    }
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const runtime = process.argv.includes('--podman') ? 'podman' : 'docker';
  buildTestImage({ force: process.argv.includes('--force'), runtime, log: (line) => console.error(line) }).then(
    (result) => console.log(result.ref),
    (error) => {
      console.error(`test image: ${error.message}`);
      process.exitCode = 1;
    },
  );
}
