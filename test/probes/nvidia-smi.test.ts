/**
 * The nvidia-smi parsers on recorded real-format output (one folder per host under
 * test/fixtures/nvidia-smi/), the probe against the fake nvidia-smi replaying those hosts,
 * and property tests that no output, however odd, makes a parser throw.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { cp, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  QUERY_FIELDS,
  QUERY_FIELDS_NO_CC,
  parseComputeApps,
  parseGpuQuery,
  parseMiB,
  parseSmiHeader,
  parseSmiQ,
  parseSmiVersion,
  probeGpus,
} from '../../src/probes/nvidia.js';
import { runProbe } from '../../src/probes/index.js';
import { run } from '../../src/exec.js';
import { resolveSettings } from '../../src/settings.js';
import { capabilityFromName } from '../../src/data/gpus.js';
import { FAKE_BIN, ROOT } from '../helpers/cli.js';

const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'nvidia-smi');
const fixture = (host: string, file: string) => readFileSync(path.join(FIXTURES, host, file), 'utf8');

describe('parseGpuQuery on recorded hosts', () => {
  it('reads an idle A100 80GB', () => {
    const { gpus, unreadLines } = parseGpuQuery(fixture('a100-80gb-idle', 'query-gpu.txt'));
    expect(unreadLines).toEqual([]);
    expect(gpus).toEqual([
      {
        index: 0,
        name: 'NVIDIA A100-SXM4-80GB',
        uuid: 'GPU-6f3c1a2e-8b1d-4c7e-9a51-2d4e8f0b7c13',
        driverVersion: '550.54.15',
        memoryTotalMiB: 81920,
        memoryUsedMiB: 1,
        memoryFreeMiB: 81037,
        computeCapability: '8.0',
        computeCapabilitySource: 'nvidia-smi',
      },
    ]);
  });

  it('reads the same host with a header line and units (csv without noheader,nounits)', () => {
    const plain = parseGpuQuery(fixture('a100-80gb-idle', 'query-gpu.txt'));
    const withUnits = parseGpuQuery(fixture('a100-80gb-idle', 'query-gpu-units.txt'));
    expect(withUnits).toEqual(plain);
  });

  it.each([
    ['a100-80gb-busy', 'NVIDIA A100-SXM4-80GB', 81920, 61234, 19803, '8.0', '535.183.01'],
    ['rtx3090', 'NVIDIA GeForce RTX 3090', 24576, 1582, 22630, '8.6', '550.120'],
    ['rtx4090', 'NVIDIA GeForce RTX 4090', 24564, 1, 24080, '8.9', '570.124.06'],
    ['gtx1080ti', 'NVIDIA GeForce GTX 1080 Ti', 11264, 243, 10781, '6.1', '535.183.01'],
    ['h100', 'NVIDIA H100 80GB HBM3', 81559, 1, 80626, '9.0', '570.124.06'],
    ['t4', 'Tesla T4', 15360, 1, 14930, '7.5', '550.54.15'],
  ])('reads %s', (host, name, total, used, free, cc, driver) => {
    const { gpus } = parseGpuQuery(fixture(host, 'query-gpu.txt'));
    expect(gpus).toHaveLength(1);
    expect(gpus[0]).toMatchObject({ index: 0, name, memoryTotalMiB: total, memoryUsedMiB: used, memoryFreeMiB: free, computeCapability: cc, driverVersion: driver });
    expect(gpus[0]!.uuid).toMatch(/^GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });

  it('reads two GPUs, one busy', () => {
    const { gpus } = parseGpuQuery(fixture('two-a100-one-busy', 'query-gpu.txt'));
    expect(gpus.map((g) => [g.index, g.memoryFreeMiB])).toEqual([
      [0, 2441],
      [1, 40444],
    ]);
  });

  it('turns [N/A] memory (unified-memory machines) into null, keeping the rest', () => {
    const { gpus } = parseGpuQuery(fixture('unified-memory-na', 'query-gpu.txt'));
    expect(gpus[0]).toMatchObject({ name: 'NVIDIA GB10', memoryTotalMiB: null, memoryUsedMiB: null, memoryFreeMiB: null, computeCapability: '12.1' });
  });

  it('treats [Not Supported] and odd capabilities as unknown', () => {
    const { gpus } = parseGpuQuery('0, NVIDIA A10G, GPU-1, 535.183.01, 23028, [Not Supported], 22515, [N/A]\n');
    expect(gpus[0]).toMatchObject({ memoryUsedMiB: null, memoryFreeMiB: 22515, computeCapability: null, computeCapabilitySource: 'unknown' });
  });

  it('reads the 470-series re-query without compute_cap', () => {
    const { gpus } = parseGpuQuery(fixture('driver-470', 'query-gpu-nocc.txt'), QUERY_FIELDS_NO_CC);
    expect(gpus[0]).toMatchObject({ name: 'NVIDIA A100-PCIE-40GB', driverVersion: '470.239.06', memoryTotalMiB: 40536, computeCapability: null });
  });

  it('sets aside the error text and lines with the wrong number of fields instead of guessing', () => {
    expect(parseGpuQuery(fixture('driver-470', 'query-gpu.txt'))).toEqual({ gpus: [], lostGpus: [], unreadLines: ['Field "compute_cap" is not a valid field to query.'] });
    expect(parseGpuQuery('0, NVIDIA A100-SXM4-80GB, 81920\n').gpus).toEqual([]);
  });
});

describe('driver and CUDA versions', () => {
  it('reads `nvidia-smi --version`', () => {
    expect(parseSmiVersion(fixture('h100', 'version.txt'))).toEqual({ driverVersion: '570.124.06', cudaVersion: '12.8', cudaText: null });
    expect(parseSmiVersion(fixture('driver-470', 'version.txt'))).toEqual({ driverVersion: null, cudaVersion: null, cudaText: null });
  });

  it("reads plain nvidia-smi's banner, old and new layouts", () => {
    expect(parseSmiHeader(fixture('driver-470', 'smi.txt'))).toEqual({ driverVersion: '470.239.06', cudaVersion: '11.4', cudaText: null });
    expect(parseSmiHeader(fixture('a100-80gb-idle', 'smi.txt'))).toEqual({ driverVersion: '550.54.15', cudaVersion: '12.4', cudaText: null });
    // 610 and later (a public capture of 610.57.04): KMD Version, CUDA UMD Version.
    expect(parseSmiHeader('| NVIDIA-SMI 610.57.04              KMD Version: 610.57.04     CUDA UMD Version: 13.3     |')).toEqual({
      driverVersion: '610.57.04',
      cudaVersion: '13.3',
      cudaText: null,
    });
    // WSL2 and vGPU guests: the field is there, the version is not.
    expect(parseSmiHeader('| NVIDIA-SMI 550.54.10              Driver Version: 551.61         CUDA Version: ERR!     |')).toEqual({
      driverVersion: '551.61',
      cudaVersion: null,
      cudaText: 'ERR!',
    });
  });

  it('reads `nvidia-smi -q`', () => {
    expect(parseSmiQ(fixture('driver-470', 'q.txt'))).toEqual({ driverVersion: '470.239.06', cudaVersion: '11.4', cudaText: null });
    expect(parseSmiQ('Driver Version                            : 560.35.02\nCUDA Version                              : Not Found\n')).toEqual({
      driverVersion: '560.35.02',
      cudaVersion: null,
      cudaText: 'Not Found',
    });
  });
});

describe('parseComputeApps', () => {
  it('reads the csv with its header and units', () => {
    expect(parseComputeApps(fixture('a100-80gb-busy', 'apps-2.txt'))).toEqual([
      { pid: 48213, usedMiB: 61734, gpuUuid: null, processName: null },
      { pid: 51877, usedMiB: 1024, gpuUuid: null, processName: null },
    ]);
  });

  it('keeps a process whose memory is [N/A]', () => {
    expect(parseComputeApps(fixture('a100-80gb-busy', 'apps-3.txt'))[1]).toEqual({ pid: 51877, usedMiB: null, gpuUuid: null, processName: null });
  });

  it('reads noheader,nounits output and extra columns named in the header', () => {
    expect(parseComputeApps('48213, 61222\n').map((a) => [a.pid, a.usedMiB])).toEqual([[48213, 61222]]);
    const withColumns = 'gpu_uuid, pid, process_name, used_gpu_memory [MiB]\nGPU-b2e94d71-0c3a-4f5e-8d26-7a19c4e3f058, 48213, python3, 61222 MiB\n';
    expect(parseComputeApps(withColumns)).toEqual([
      { pid: 48213, usedMiB: 61222, gpuUuid: 'GPU-b2e94d71-0c3a-4f5e-8d26-7a19c4e3f058', processName: 'python3' },
    ]);
  });

  it('answers no processes for a header alone or "No running processes found"', () => {
    expect(parseComputeApps('pid, used_gpu_memory [MiB]\n')).toEqual([]);
    expect(parseComputeApps('No running processes found\n')).toEqual([]);
  });
});

describe('parsers never throw', () => {
  const lineWithCommas = fc.array(fc.oneof(fc.string(), fc.constantFrom('[N/A]', '[Not Supported]', '81920 MiB', '8.0', 'GPU-1', '0', '')), { maxLength: 10 }).map((cells) => cells.join(', '));
  const text = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.array(lineWithCommas, { maxLength: 6 }).map((lines) => lines.join('\n')));

  it('on arbitrary text and comma-separated lines', () => {
    fc.assert(
      fc.property(text, (input) => {
        const query = parseGpuQuery(input);
        for (const gpu of query.gpus) expect(Number.isInteger(gpu.index)).toBe(true);
        parseGpuQuery(input, QUERY_FIELDS_NO_CC);
        parseComputeApps(input);
        parseSmiVersion(input);
        parseSmiHeader(input);
        parseSmiQ(input);
        parseMiB(input);
        capabilityFromName(input);
      }),
      { numRuns: 500 },
    );
  });

  it('a well-formed line always comes back as the GPU it describes', () => {
    const gpuLine = fc.record({
      index: fc.nat(15),
      free: fc.nat(200_000),
      used: fc.nat(200_000),
      cc: fc.constantFrom('7.5', '8.0', '8.6', '8.9', '9.0', '10.0', '12.0'),
    });
    fc.assert(
      fc.property(gpuLine, ({ index, free, used, cc }) => {
        const line = `${index}, NVIDIA L40S, GPU-0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f, 570.124.06, ${free + used}, ${used}, ${free}, ${cc}`;
        const [gpu] = parseGpuQuery(line, QUERY_FIELDS).gpus;
        expect(gpu).toMatchObject({ index, memoryFreeMiB: free, memoryUsedMiB: used, memoryTotalMiB: free + used, computeCapability: cc });
      }),
    );
  });
});

describe('probeGpus against the fake nvidia-smi', () => {
  const savedPath = process.env.PATH;
  const savedFake = process.env.FAKE_NVIDIA_SMI;
  const savedHang = process.env.FAKE_NVIDIA_SMI_HANG;
  const settings = (flags: Record<string, unknown> = {}) => resolveSettings('check', flags, {}, ROOT);
  const useHost = (host: string) => {
    process.env.FAKE_NVIDIA_SMI = path.isAbsolute(host) ? host : path.join(FIXTURES, host);
  };

  beforeEach(() => {
    process.env.PATH = `${FAKE_BIN}${path.delimiter}${savedPath}`;
    delete process.env.FAKE_NVIDIA_SMI_HANG;
  });
  afterEach(() => {
    process.env.PATH = savedPath;
    process.env.FAKE_NVIDIA_SMI = savedFake;
    if (savedHang === undefined) delete process.env.FAKE_NVIDIA_SMI_HANG;
    else process.env.FAKE_NVIDIA_SMI_HANG = savedHang;
    if (savedFake === undefined) delete process.env.FAKE_NVIDIA_SMI;
  });

  it('gathers a healthy H100 in ONE nvidia-smi call, the CUDA version derived from the driver version', async () => {
    useHost('h100');
    const inventory = await probeGpus(settings());
    expect(inventory).toMatchObject({
      state: 'ok',
      driverVersion: '570.124.06',
      cudaVersion: '12.8',
      cudaVersionSource: 'derived',
      smiCalls: 1,
      notes: ["CUDA 12.8 derived from driver 570.124.06 with NVIDIA's table"],
    });
    if (inventory.state !== 'ok') throw new Error('unreachable');
    expect(inventory.gpus).toHaveLength(1);
    expect(inventory.gpus[0]).toMatchObject({ name: 'NVIDIA H100 80GB HBM3', computeCapability: '9.0', computeCapabilitySource: 'nvidia-smi' });
  });

  it('falls back to the GPU name on a 470 driver that rejects compute_cap, and to the banner for CUDA', async () => {
    useHost('driver-470');
    const inventory = await probeGpus(settings());
    expect(inventory).toMatchObject({ state: 'ok', driverVersion: '470.239.06', cudaVersion: '11.4', cudaVersionSource: 'nvidia-smi', smiCalls: 3 });
    if (inventory.state !== 'ok') throw new Error('unreachable');
    expect(inventory.gpus[0]).toMatchObject({ name: 'NVIDIA A100-PCIE-40GB', computeCapability: '8.0', computeCapabilitySource: 'name-table' });
    expect(inventory.notes.join(' ')).toContain('compute capability taken from the GPU name');
  });

  it('reads the CUDA version from -q on an old driver, without the banner', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'gd-smi-'));
    try {
      await cp(path.join(FIXTURES, 'driver-470'), dir, { recursive: true });
      await unlink(path.join(dir, 'smi.txt'));
      useHost(dir);
      const inventory = await probeGpus(settings());
      expect(inventory).toMatchObject({ state: 'ok', driverVersion: '470.239.06', cudaVersion: '11.4', cudaVersionSource: 'nvidia-smi' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('says no-driver with the exact NVIDIA-SMI has failed message (exit 9)', async () => {
    useHost('no-driver');
    const inventory = await probeGpus(settings());
    expect(inventory).toEqual({
      state: 'no-driver',
      message: "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.",
    });
  });

  it('says no-nvidia-smi when the binary is not on PATH', async () => {
    process.env.PATH = path.join(ROOT, 'test', 'fixtures', 'nvidia-smi');
    const inventory = await probeGpus(settings());
    expect(inventory.state).toBe('no-nvidia-smi');
  });

  it('says unreadable, with the lines that explain why, on any other failure', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'gd-smi-'));
    try {
      await writeFile(path.join(dir, 'query-gpu.txt'), 'Something went wrong.\nAn unexpected error occurred while querying the GPU\n');
      await writeFile(path.join(dir, 'query-gpu.exit'), '255\n');
      useHost(dir);
      const inventory = await probeGpus(settings());
      expect(inventory).toEqual({ state: 'unreadable', message: 'nvidia-smi --query-gpu exited with code 255: An unexpected error occurred while querying the GPU' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('keeps the GPUs that answer when one of several fell off the bus, and names the lost one', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'gd-smi-'));
    try {
      const healthy = fixture('two-a100-one-busy', 'query-gpu.txt').split('\n')[1];
      await writeFile(path.join(dir, 'query-gpu.txt'), `${healthy}\n`);
      await writeFile(path.join(dir, 'query-gpu.stderr'), 'Unable to determine the device handle for GPU0000:07:00.0: Unknown Error\n');
      await writeFile(path.join(dir, 'query-gpu.exit'), '15\n');
      await cp(path.join(FIXTURES, 'two-a100-one-busy', 'version.txt'), path.join(dir, 'version.txt'));
      useHost(dir);
      const inventory = await probeGpus(settings());
      if (inventory.state !== 'ok') throw new Error(`expected ok, got ${JSON.stringify(inventory)}`);
      expect(inventory.gpus.map((g) => g.index)).toEqual([1]);
      expect(inventory.lostGpus).toEqual([{ id: '0000:07:00.0', line: 'Unable to determine the device handle for GPU0000:07:00.0: Unknown Error' }]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('says no-devices when the driver sees none ("No devices were found", exit 6)', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'gd-smi-'));
    try {
      await writeFile(path.join(dir, 'query-gpu.txt'), 'No devices were found\n');
      await writeFile(path.join(dir, 'query-gpu.exit'), '6\n');
      await cp(path.join(FIXTURES, 'h100', 'version.txt'), path.join(dir, 'version.txt'));
      useHost(dir);
      const inventory = await probeGpus(settings());
      expect(inventory).toEqual({ state: 'no-devices', message: 'No devices were found (nvidia-smi exit 6)' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('replays --query-compute-apps as a sequence for watch (the last file repeats)', async () => {
    const state = await mkdtemp(path.join(os.tmpdir(), 'gd-smi-state-'));
    try {
      useHost('a100-80gb-busy');
      process.env.FAKE_NVIDIA_SMI_STATE = state;
      const seen: number[][] = [];
      for (let i = 0; i < 4; i++) {
        const result = await run('nvidia-smi', ['--query-compute-apps=pid,used_memory', '--format=csv'], { timeoutMs: 10_000 });
        seen.push(parseComputeApps(result.stdout).map((a) => a.usedMiB ?? -1));
      }
      expect(seen).toEqual([[61222], [61734, 1024], [62246, -1], [62246, -1]]);
    } finally {
      delete process.env.FAKE_NVIDIA_SMI_STATE;
      await rm(state, { recursive: true, force: true });
    }
  });

  it('turns a hung nvidia-smi into a timeout outcome within the probe time limit', async () => {
    useHost('h100');
    process.env.FAKE_NVIDIA_SMI_HANG = '1';
    const outcome = await runProbe('gpus', settings({ probeTimeout: '1' }));
    expect(outcome).toMatchObject({ ok: false, kind: 'timeout' });
    if (outcome.ok) throw new Error('unreachable');
    expect(outcome.message).toContain('nvidia-smi did not answer within 1 s');
  });
});
