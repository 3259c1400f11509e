/**
 * host.memory: enough host RAM to load the weights, and disk to spare where the model lives.
 * vLLM reads the safetensors through host memory while loading; short of it, the kernel kills
 * the container (exit 137, OOMKilled) before the server ever answers.
 */
import { defineCheck, type Judgement } from '../src/judge.js';
import { LOW_DISK_BYTES, requiredHostBytes } from '../src/data/host.js';
import { bytesHuman } from '../src/report/format.js';

const MiB = 1024 * 1024;

export const hostMemory = defineCheck({
  id: 'host.memory',
  title: 'Host memory and disk',
  needs: ['host', 'model'],
  judge({ host, model }, settings): Judgement {
    const weightBytes = model?.weightBytes ?? settings.model.weightBytes;
    const weightSource = model?.weightBytes != null ? 'the model folder' : 'the published size';
    const requiredBytes = requiredHostBytes(weightBytes, settings.cpu);
    const memoryShort = host.memAvailableBytes < requiredBytes;
    const diskLow = host.diskFreeBytes !== null && host.diskFreeBytes < LOW_DISK_BYTES;
    const measured = {
      memAvailableMiB: Math.floor(host.memAvailableBytes / MiB),
      memTotalMiB: Math.floor(host.memTotalBytes / MiB),
      requiredMiB: Math.ceil(requiredBytes / MiB),
      weightBytes,
      diskFreeMiB: host.diskFreeBytes === null ? null : Math.floor(host.diskFreeBytes / MiB),
      diskPath: host.diskPath,
      os: host.os,
    };
    const need = `${settings.cpu ? 'serving' : 'loading'} ${settings.model.name} needs about ${bytesHuman(requiredBytes)} (${bytesHuman(weightBytes)} of weights from ${weightSource}${settings.cpu ? ', the KV cache' : ''} and the server)`;
    const memory = `${bytesHuman(host.memAvailableBytes)} of ${bytesHuman(host.memTotalBytes)} RAM available`;
    const disk = host.diskFreeBytes === null ? `free disk at ${host.diskPath} unknown` : `${bytesHuman(host.diskFreeBytes)} free disk at ${host.diskPath}`;

    const problems: string[] = [];
    const fixes: string[] = [];
    if (memoryShort) {
      problems.push(`${memory}; ${need}`);
      fixes.push(
        `free host memory (stop other containers or processes) or add swap; otherwise the container may be killed while loading (exit 137, OOMKilled)${settings.model.name !== 'Qwen3Guard-Gen-0.6B' ? `, or use a smaller model such as --model Qwen3Guard-Gen-${settings.model.name.endsWith('8B') ? '4B' : '0.6B'}` : ''}`,
      );
    }
    if (diskLow) {
      problems.push(`only ${disk}`);
      fixes.push(`free disk space on the file system holding ${host.diskPath} (at least ${bytesHuman(LOW_DISK_BYTES)})`);
    }
    if (problems.length > 0) return { status: 'warn', summary: problems.join('; '), fix: fixes.join('; '), measured };
    return { status: 'pass', summary: `${memory}, ${settings.cpu ? 'serving' : 'loading'} needs about ${bytesHuman(requiredBytes)}; ${disk}`, measured };
  },
});
