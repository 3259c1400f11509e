/**
 * `guard-doctor diagnose`: explain a failed deployment from its logs. Input: a container
 * (its logs, stdout and stderr in order, plus docker inspect's state), log files, or
 * standard input, streamed line by line. Exit 0 when the log shows a finished start-up and no failure,
 * 1 with known findings, 3 when it cannot tell (an unrecognized failure, no sign of a finished
 * start-up, an empty log), 2 for bad input.
 */
import { createReadStream } from 'node:fs';
import { EXIT } from '../types.js';
import type { Settings } from '../settings.js';
import { UsageError, describeReadError } from '../errors.js';
import { buildReport } from '../report/outcome.js';
import { paint } from '../report/style.js';
import { plural } from '../report/format.js';
import { LineSplitter, LogMatcher, stateSource, type ContainerStateFacts, type Diagnosis, type DiagnosisKind, type LogSource } from '../diagnose.js';
import { containerLogs, inspectContainer } from '../launch/container.js';
import { renderFindings } from '../launch/render.js';
import { localHost, type Host } from '../exec.js';

/** A container's log and state on `host` (this machine or a fleet host), as diagnose reads them. */
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
/** Files are read in chunks of this size: a log of any length streams through, and each chunk is young garbage the collector frees at once. */
const CHUNK_BYTES = 64 * 1024;

/** Streams standard input into the matcher; resolves with a note when it had to stop early. */
function readStdin(matcher: LogMatcher, limitMs: number): Promise<string | null> {
  matcher.begin('standard input');
  const splitter = new LineSplitter((line) => matcher.line(line));
  return new Promise((resolve) => {
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
      splitter.end();
      resolve(note);
    };
    const onData = (chunk: string) => splitter.push(chunk);
    const onEnd = () => finish(null);
    const timer = setTimeout(() => finish(`standard input was still open after ${limitMs / 1000} s; diagnosed what had arrived`), limitMs);
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', onData);
    process.stdin.on('end', onEnd);
    process.stdin.on('error', onEnd);
  });
}

async function readLog(matcher: LogMatcher, file: string): Promise<void> {
  matcher.begin(file);
  const splitter = new LineSplitter((line) => matcher.line(line));
  try {
    for await (const chunk of createReadStream(file, { encoding: 'utf8', highWaterMark: CHUNK_BYTES })) splitter.push(chunk as string);
  } catch (error) {
    const why = describeReadError(error);
    throw new UsageError(`--log: cannot read ${file}: ${why}. Give the path of a log file, e.g. --log ./vllm.log (or pipe one in: docker logs NAME 2>&1 | guard-doctor diagnose)`);
  }
  splitter.end();
}

export const EXIT_FOR: Record<DiagnosisKind, number> = {
  'known-failure': EXIT.failed,
  'unrecognized-failure': EXIT.undetermined,
  healthy: EXIT.ok,
  undetermined: EXIT.undetermined,
  empty: EXIT.undetermined,
};

/** The closing lines for the terminal: what the verdict rests on and the exit code. */
function verdictLines(diagnosis: Diagnosis, exitCode: number): string[] {
  const exit = paint.dim(`exit ${exitCode}`);
  switch (diagnosis.kind) {
    case 'known-failure':
      return [`${plural(diagnosis.findings.length, 'known failure')} found ${exit}`];
    case 'unrecognized-failure':
      return ['The log shows a failure that guard-doctor does not recognize, so it cannot tell the cause (and does not call it healthy). ' + exit];
    case 'healthy':
      return [
        `Healthy: the server finished starting and nothing failed after that. ${exit}`,
        ...diagnosis.evidence.slice(0, 1).map((l) => paint.dim(`  ${l.source}:${l.n}: ${l.text}`)),
      ];
    case 'empty':
      return [`The log is empty: there is nothing to judge. Give the whole log (docker logs NAME 2>&1), or --container NAME. ${exit}`];
    case 'undetermined':
      return [
        'No failure found, but nothing in the log shows that the server finished starting ("Application startup complete" or the like): it may still be loading, or the log is cut. Diagnose the whole log once the server is up or has failed. ' +
          exit,
      ];
  }
}

export async function run(settings: Settings): Promise<number> {
  const notes: string[] = [];
  let state: ContainerStateFacts | null = null;
  const matcher = new LogMatcher({ state: null });
  const pending: LogSource[] = [];

  if (settings.container) {
    const read = await readContainer(settings, settings.container, localHost);
    state = read.state;
    pending.push(...read.sources);
    notes.push(read.note);
  }
  matcher.setState(state);
  for (const source of pending) matcher.text(source);
  for (const file of settings.logFiles) await readLog(matcher, file);

  if (pending.length === 0 && settings.logFiles.length === 0) {
    if (process.stdin.isTTY) {
      throw new UsageError('nothing to read: pipe a log in (docker logs NAME 2>&1 | guard-doctor diagnose), or give --log FILE or --container NAME');
    }
    const note = await readStdin(matcher, STDIN_LIMIT_MS);
    if (note) notes.push(note);
  }

  const diagnosis = matcher.finish();
  const { findings, sources } = diagnosis;
  const exitCode = EXIT_FOR[diagnosis.kind];
  const lineCount = sources.reduce((n, s) => n + s.lines, 0);

  if (settings.json) {
    const report = buildReport(
      'diagnose',
      { diagnosis: diagnosis.kind, findings, ...(diagnosis.kind === 'healthy' ? { evidence: diagnosis.evidence } : {}), sources, ...(state ? { containerState: state } : {}), notes },
      false,
      exitCode,
    );
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    return exitCode;
  }
  const what = sources.map((s) => s.name).join(', ');
  const out = [paint.bold(`guard-doctor diagnose: read ${plural(lineCount, 'line')} from ${what}`), ...notes.map((n) => paint.dim(`  (${n})`)), ''];
  if (findings.length) out.push(...renderFindings(findings, sources.length > 1), '');
  out.push(...verdictLines(diagnosis, exitCode));
  process.stdout.write(out.join('\n') + '\n');
  return exitCode;
}
