/**
 * The parsers for the host states issue 8 is about, on the real output of the corpus in
 * test/fixtures/nvidia-smi/real/ (GD_REAL_NVIDIA_SMI points at another copy) where it is there,
 * and on the shapes nvidia-smi prints: a GPU fallen off the bus, an NVML mismatch, MIG devices
 * in `-q` (and 610's "Shared FB Memory Usage"), in `-L` and in the plain table.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { parseLostGpu, parseNvmlMismatch, parseSmiList, parseSmiListGpus, parseSmiMigTable, parseSmiQ, parseSmiQGpus } from '../../src/probes/nvidia.js';
import { ROOT } from '../helpers/cli.js';

const CORPUS = process.env.GD_REAL_NVIDIA_SMI ?? path.join(ROOT, 'test', 'fixtures', 'nvidia-smi', 'real');
/** A file of the corpus host whose folder starts with `prefix`, or null when the corpus is not here. */
function real(prefix: string, file: string): string | null {
  if (!existsSync(CORPUS)) return null;
  const folder = readdirSync(CORPUS).find((name) => name.startsWith(prefix));
  const at = folder ? path.join(CORPUS, folder, file) : null;
  return at && existsSync(at) ? readFileSync(at, 'utf8') : null;
}

describe('a GPU fallen off the bus', () => {
  it('reads both spellings of the line', () => {
    expect(parseLostGpu('Unable to determine the device handle for GPU0000:3B:00.0: Unknown Error')).toEqual({
      id: '0000:3B:00.0',
      line: 'Unable to determine the device handle for GPU0000:3B:00.0: Unknown Error',
    });
    expect(parseLostGpu('Unable to determine the device handle for GPU1: 0000:34:00.0: Unknown Error')).toMatchObject({ id: 'GPU 1 (0000:34:00.0)' });
    expect(parseLostGpu('0, NVIDIA A100-SXM4-80GB, GPU-1, 550.54.15, 81920, 0, 81153, 8.0')).toBeNull();
  });

  it.skipIf(real('01-', 'captured-nvidia-smi.txt') === null)('finds it in a real 610 banner', () => {
    const lines = real('01-', 'captured-nvidia-smi.txt')!.split('\n').map(parseLostGpu).filter(Boolean);
    expect(lines).toEqual([{ id: 'GPU 1 (0000:34:00.0)', line: 'Unable to determine the device handle for GPU1: 0000:34:00.0: Unknown Error' }]);
  });
});

describe('NVML driver/library mismatch', () => {
  it('reads the library version nvidia-smi prints, and the kernel module version from the kernel log line', () => {
    expect(parseNvmlMismatch('Failed to initialize NVML: Driver/library version mismatch\nNVML library version: 535.161')).toEqual({ libraryVersion: '535.161', kernelVersion: null });
    expect(parseNvmlMismatch('NVRM: API mismatch: the client has the version 570.133.07, but this kernel module has the version 565.57.01.')).toEqual({
      libraryVersion: '570.133.07',
      kernelVersion: '565.57.01',
    });
  });

  it.skipIf(real('07-', 'captured-nvidia-smi.txt') === null)('on a real capture', () => {
    expect(parseNvmlMismatch(real('07-', 'captured-nvidia-smi.txt')!)).toEqual({ libraryVersion: '535.161', kernelVersion: null });
  });
});

describe('MIG devices', () => {
  it.skipIf(real('02-', 'captured-nvidia-smi-q-head.txt') === null)("reads a 610 -q: MIG Device blocks with their Shared FB memory, deprecated Driver/CUDA lines", () => {
    const text = real('02-', 'captured-nvidia-smi-q-head.txt')!;
    expect(parseSmiQ(text)).toMatchObject({ driverVersion: '610.43.02', cudaVersion: '13.3' });
    const [gpu] = parseSmiQGpus(text);
    expect(gpu).toMatchObject({ name: 'NVIDIA H200', brand: 'NVIDIA', migEnabled: true });
    expect(gpu!.migDevices[0]).toMatchObject({ index: 0, gpuInstanceId: 2, computeInstanceId: 0, memoryTotalMiB: 71424, memoryUsedMiB: 44, memoryFreeMiB: 71381 });
  });

  it.skipIf(real('14-', 'captured-nvidia-smi.txt') === null)('reads the MIG devices table of the plain banner', () => {
    const devices = parseSmiMigTable(real('14-', 'captured-nvidia-smi.txt')!).get(0)!;
    expect(devices.map((d) => [d.index, d.gpuInstanceId, d.memoryTotalMiB, d.memoryFreeMiB])).toEqual([
      [0, 3, 9856, 9844],
      [1, 4, 9856, 9844],
      [2, 5, 9856, 9844],
      [3, 6, 9856, 9844],
    ]);
  });

  it.skipIf(real('27-', 'captured-nvidia-smi-L.txt') === null)('reads GPUs and MIG devices from -L', () => {
    const text = real('27-', 'captured-nvidia-smi-L.txt')!;
    expect(parseSmiListGpus(text).map((g) => g.name)).toEqual(Array(4).fill('NVIDIA H100 80GB HBM3'));
    expect(parseSmiList(text).get(3)).toEqual([{ index: 0, profile: '2g.20gb', uuid: 'MIG-55d07ceb-ef71-58e0-87c2-0477d96fa03f' }]);
  });

  it('reads the shapes without a corpus too', () => {
    const q = ['GPU 00000000:83:00.0', '    Product Name : NVIDIA H200', '    Product Brand : NVIDIA', '    MIG Mode', '        Current : Enabled', '    MIG Device', '        Index : 0', '        Shared FB Memory Usage', '            Total : 71424 MiB', '            Used : 44 MiB', '            Free : 71381 MiB', '    GPU UUID : GPU-1'].join('\n');
    expect(parseSmiQGpus(q)).toMatchObject([{ name: 'NVIDIA H200', uuid: 'GPU-1', migEnabled: true, migDevices: [{ index: 0, memoryTotalMiB: 71424, memoryFreeMiB: 71381 }] }]);
    expect(parseSmiMigTable('| MIG devices: |\n|  0    3   0   0  |              12MiB /  9856MiB  | 14      0 |\n| Processes: |').get(0)).toMatchObject([{ index: 0, memoryTotalMiB: 9856 }]);
  });
});
