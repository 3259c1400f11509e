/**
 * Every preflight check, in the fixed order reports print them (npm doctor's table):
 * the GPU first, then the container runtime, the model, and the host.
 */
import type { Check } from '../src/check.js';
import { gpuDriver } from './gpu-driver.js';
import { gpuComputeCapability } from './gpu-compute-capability.js';
import { gpuVram } from './gpu-vram.js';
import { dockerDaemon } from './docker-daemon.js';
import { dockerGpu } from './docker-gpu.js';
import { modelSource } from './model-source.js';
import { modelMount } from './model-mount.js';
import { modelFiles } from './model-files.js';
import { modelPermissions } from './model-permissions.js';
import { hostMemory } from './host-memory.js';
import { portFree } from './port-free.js';

export const PREFLIGHT_CHECKS: readonly Check[] = [
  gpuDriver,
  gpuComputeCapability,
  gpuVram,
  dockerDaemon,
  dockerGpu,
  modelSource,
  modelMount,
  modelFiles,
  modelPermissions,
  hostMemory,
  portFree,
] as Check[];
