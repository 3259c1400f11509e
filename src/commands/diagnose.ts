/**
 * `guard-doctor diagnose`: explain a failed deployment from its logs. Input: a container
 * (its logs, stdout and stderr in order, plus docker inspect's state), log files, or
 * standard input. Exit 0 when no known failure is found, 1 with findings, 2 for bad input.
 */
import { readFile } from 'node:fs/promises';
import { EXIT } from '../types.js';
import type { Settings } from '../settings.js';
import { UsageError, describeReadError, errorMessage } from '../errors.js';
import { buildReport } from '../report/outcome.js';
import { paint } from '../report/style.js';
import { plural } from '../report/format.js';
import { diagnose, splitLines, stateSource, type ContainerStateFacts, type LogSource } from '../diagnose.js';
import { containerLogs, inspectContainer } from '../launch/container.js';
import { renderFindings } from '../launch/render.js';
import { localHost, type Host } from '../exec.js';

/** A container's log and state on `host`, as diagnose reads them. */
export async function readContainer(settings: Settings, name: string, host: Host): Promise<{ sources: LogSource[]; state: ContainerStateFacts; note: string }> {
  const found = await inspectContainer(settings.runtime, name, host);
  if (!found.exists) throw new UsageError(`--container: no container named ${name}${host.remote ? ` on ${host.label}` : ''}. List them with \`${settings.runtime} ps -a\`; a removed container's log is gone, so pass a saved log with --log`);
  const state = found.info.state;
  const sources: LogSource[] = [];
  const fromState = stateSource(name, state);
  if (fromState) sources.push(fromState);
  sources.push({ name: `container ${name}`, text: await containerLogs(settings.runtime, name, undefined, host) });
  const note = found.info.running ? `container ${name} is running` : `container ${name} is ${state.status}, exit code ${state.exitCode ?? '?'}${state.oomKilled ? ', OOMKilled' : ''}`;
  return { sources, state, note };
}

/** Standard input is read for at most this long (a `docker logs -f` pipe never ends). */
export const STDIN_LIMIT_MS = 30_000;
/** And at most this much of it. */
export const INPUT_LIMIT_BYTES = 64 * 1024 * 1024;

interface StdinResult {
  text: string;
  note: string | null;
}

function readStdin(limitMs: number): Promise<StdinResult> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    let settled = false;
    const finish = (note: string | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      process.stdin.off('data', onData);
      process.stdin.off('end', onEnd);
      process.stdin.off('error', onEnd);
      process.stdin.pause();
      process.stdin.destroy();
      resolve({ text: Buffer.concat(chunks).toString('utf8'), note });
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      bytes += chunk.length;
      if (bytes >= INPUT_LIMIT_BYTES) finish(`standard input is longer than ${INPUT_LIMIT_BYTES / 1024 / 1024} MiB; read the first part only`);
    };
    const onEnd = () => finish(null);
    const timer = setTimeout(() => finish(`standard input was still open after ${limitMs / 1000} s; diagnosed what had arrived`), limitMs);
    process.stdin.on('data', onData);
    process.stdin.on('end', onEnd);
    process.stdin.on('error', onEnd);
  });
}

async function readLog(file: string): Promise<string> {
  try {
    const buffer = await readFile(file);
    return buffer.subarray(0, INPUT_LIMIT_BYTES).toString('utf8');
  } catch (error) {
    const why = describeReadError(error);
    throw new UsageError(`--log: cannot read ${file}: ${why}. Give the path of a log file, e.g. --log ./vllm.log (or pipe one in: docker logs NAME 2>&1 | guard-doctor diagnose)`);
  }
}

export async function run(settings: Settings): Promise<number> {
  const sources: LogSource[] = [];
  const notes: string[] = [];
  let state: ContainerStateFacts | null = null;

  if (settings.container) {
    const read = await readContainer(settings, settings.container, localHost);
    state = read.state;
    sources.push(...read.sources);
    notes.push(read.note);
  }
  for (const file of settings.logFiles) sources.push({ name: file, text: await readLog(file) });

  if (sources.length === 0 && !settings.container) {
    if (process.stdin.isTTY) {
      throw new UsageError('nothing to read: pipe a log in (docker logs NAME 2>&1 | guard-doctor diagnose), or give --log FILE or --container NAME');
    }
    const input = await readStdin(STDIN_LIMIT_MS);
    if (input.note) notes.push(input.note);
    if (input.text.trim() === '') {
      throw new UsageError(input.note ? `${input.note}, and nothing had arrived. Pipe a finished log in, or give --log FILE or --container NAME` : 'standard input was empty: pipe a log in (docker logs NAME 2>&1 | guard-doctor diagnose), or give --log FILE or --container NAME');
    }
    sources.push({ name: 'standard input', text: input.text });
  }

  const findings = diagnose(sources, { state });
  const lineCount = sources.reduce((n, s) => n + splitLines(s.text).length, 0);
  const exitCode = findings.length ? EXIT.failed : EXIT.ok;

  if (settings.json) {
    const report = buildReport('diagnose', { findings, sources: sources.map((s) => ({ name: s.name, lines: splitLines(s.text).length })), ...(state ? { containerState: state } : {}), notes }, false, exitCode);
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    return exitCode;
  }
  const what = sources.map((s) => s.name).join(', ');
  const out = [paint.bold(`guard-doctor diagnose: read ${plural(lineCount, 'line')} from ${what}`), ...notes.map((n) => paint.dim(`  (${n})`)), ''];
  if (findings.length) {
    out.push(...renderFindings(findings, sources.length > 1), '', `${plural(findings.length, 'known failure')} found ${paint.dim(`exit ${exitCode}`)}`);
  } else {
    out.push(`No known failure found. If the deployment still fails, read the log's last traceback or error line; \`guard-doctor check\` tests the host. ${paint.dim(`exit ${exitCode}`)}`);
  }
  process.stdout.write(out.join('\n') + '\n');
  return exitCode;
}
