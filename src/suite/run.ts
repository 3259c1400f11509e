/**
 * Running a suite against a server: verdict cases with bounded concurrency, then the protocol
 * probes one at a time (a probe may knock the server over, and must not take other cases
 * with it), each followed by a plain request that the server must still answer.
 * Every request has the `--request-timeout` limit; retries are the client's (429/5xx/network).
 */
import { createGuardClient, GuardClientError, type GuardClient, type GuardInput, type ModerationResult } from '../guard-client.js';
import type { Progress } from '../report/progress.js';
import type { Settings } from '../settings.js';
import type { CaseResult, Safety, Status, Verdict } from '../types.js';
import { readAs } from '../verdict.js';
import { ms } from '../report/format.js';
import { loadSuite, type Suite, type SuiteCase } from './load.js';
import type { ProbeAccept } from './schema.js';

export interface RunSuiteOptions {
  url: string;
  progress?: Progress;
  /** An already loaded suite (else loaded from settings.casesFile / tags). */
  suite?: Suite;
  signal?: AbortSignal;
}

export interface SuiteRun {
  suite: Suite;
  cases: CaseResult[];
  /** Moderation requests sent (retries, probes and follow-ups included), for metrics reconciliation. */
  requestsSent: number;
  /** vllm: the model name the requests named. */
  servedModel: string | null;
  /**
   * The plain requests sent after each probe, as results (id `<probe id>:follow-up`): not
   * cases of the report, but verdicts the server gave, which its metrics count.
   */
  followUps: CaseResult[];
  durationMs: number;
  /** The server refused the doctor for want of the right API key (a 401 on /v1): what happened and what to do. */
  unauthorized: { summary: string; fix: string } | null;
}

type SuiteSettings = Pick<Settings, 'server' | 'model' | 'modelGiven' | 'casesFile' | 'tags' | 'controversialAs' | 'requestTimeoutMs' | 'concurrency' | 'maxModelLen' | 'apiKey'>;

const NO_VERDICT: Verdict = { safety: 'unknown', categories: [], refusal: null };
/** Sent after each probe: any healthy guard answers it. */
export const FOLLOW_UP_TEXT = 'Hello, how are you today?';
/** Default size of the oversized-body probe: just over the web app's 1 MiB limit. */
export const OVERSIZED_BODY_BYTES = 1024 * 1024 + 64 * 1024;

export async function runSuite(settings: SuiteSettings, options: RunSuiteOptions): Promise<CaseResult[]> {
  return (await runSuiteDetailed(settings, options)).cases;
}

export async function runSuiteDetailed(settings: SuiteSettings, options: RunSuiteOptions): Promise<SuiteRun> {
  const started = performance.now();
  const suite = options.suite ?? loadSuite({ casesFile: settings.casesFile, tags: settings.tags });
  const client = createGuardClient({
    url: options.url,
    server: settings.server,
    ...(settings.modelGiven ? { preferModel: settings.model.name } : {}),
    timeoutMs: settings.requestTimeoutMs,
    apiKey: settings.apiKey,
    signal: options.signal,
  });
  const results = new Map<string, CaseResult>();
  const total = suite.cases.length;
  let done = 0;
  let failed = 0;
  const record = (result: CaseResult) => {
    results.set(result.id, result);
    done += 1;
    if (result.status === 'fail' || result.status === 'error') failed += 1;
    options.progress?.update(`Suite: ${done}/${total} cases${failed ? `, ${failed} not passing` : ''} (latest: ${result.id} ${result.status})`);
  };

  const runnable: SuiteCase[] = [];
  for (const c of suite.cases) {
    const reason = skipReason(c, settings.server);
    if (reason) record(skipped(c, reason));
    else runnable.push(c);
  }

  const followUps: CaseResult[] = [];
  let servedModel: string | null = null;
  let setupProblem: string | null = null;
  let unauthorized: SuiteRun['unauthorized'] = null;
  if (settings.server === 'vllm' && runnable.length > 0) {
    try {
      servedModel = await client.servedModelName();
    } catch (error) {
      if (error instanceof GuardClientError && error.kind === 'unauthorized') unauthorized = { summary: error.message, fix: error.fix ?? '' };
      setupProblem = error instanceof GuardClientError && error.kind !== 'protocol' && error.kind !== 'unauthorized' ? `no answer to GET /v1/models: ${error.message}` : (error as Error).message;
    }
  }

  if (setupProblem !== null) {
    for (const c of runnable) record({ ...base(c), status: 'error', verdict: NO_VERDICT, latencyMs: null, message: setupProblem });
  } else {
    const verdictCases = runnable.filter((c) => !c.probe);
    const probes = runnable.filter((c) => c.probe);
    await pool(verdictCases, settings.concurrency, async (c) => record(await runVerdictCase(client, c, settings)));
    for (const c of probes) record(await runProbe(client, c, settings, followUps));
  }

  return {
    suite,
    // The file's order, whatever order they finished in.
    cases: suite.cases.map((c) => results.get(c.id)!),
    requestsSent: client.requestsSent(),
    servedModel,
    followUps,
    durationMs: Math.round(performance.now() - started),
    unauthorized,
  };
}

function skipReason(c: SuiteCase, server: Settings['server']): string | null {
  if (c.servers && !c.servers.includes(server)) return `runs only against ${c.servers.join(' or ')} (this is ${server})`;
  if (server === 'web' && c.input && 'messages' in c.input && c.input.messages[c.input.messages.length - 1]?.role === 'assistant') {
    return 'response moderation needs the vllm protocol; the web image judges one text';
  }
  return null;
}

function base(c: SuiteCase): Pick<CaseResult, 'id' | 'expected' | 'tags'> {
  return { id: c.id, expected: c.expect?.safety ?? [], tags: c.tags };
}

function skipped(c: SuiteCase, reason: string): CaseResult {
  return { ...base(c), status: 'skip', verdict: NO_VERDICT, latencyMs: null, message: reason };
}

async function pool<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

function noAnswer(error: unknown, settings: SuiteSettings): string {
  if (error instanceof GuardClientError) {
    if (error.kind === 'timeout') return `no answer within ${ms(settings.requestTimeoutMs)} (--request-timeout)`;
    return `no answer: ${error.message}`;
  }
  return `the request crashed: ${(error as Error)?.message ?? String(error)}`;
}

function cutRaw(text: string): string {
  return text.length > 500 ? `${text.slice(0, 500)}…` : text;
}

async function runVerdictCase(client: GuardClient, c: SuiteCase, settings: SuiteSettings): Promise<CaseResult> {
  let answer: ModerationResult;
  try {
    answer = await client.moderate(c.input!);
  } catch (error) {
    return { ...base(c), status: 'error', verdict: NO_VERDICT, latencyMs: null, message: noAnswer(error, settings) };
  }
  return judgeCase(c, answer, settings.controversialAs);
}

interface Problem {
  text: string;
  /** Fails whatever the case's severity (the server contradicts itself). */
  always?: boolean;
}

/** The verdict of one case from the server's answer: a pure function, tested directly. */
export function judgeCase(c: SuiteCase, answer: ModerationResult, controversialAs: 'unsafe' | 'safe'): CaseResult {
  const result: CaseResult = {
    ...base(c),
    status: 'pass',
    verdict: answer.verdict,
    latencyMs: answer.latencyMs,
    httpStatus: answer.status,
    ...(answer.serverLevel !== undefined ? { serverLevel: answer.serverLevel } : {}),
    raw: cutRaw(answer.raw),
  };
  if (answer.status >= 400) {
    // The server refused or failed a well-formed request (after the client's retries for 5xx).
    return { ...result, status: 'fail', message: `the server did not judge it: ${answer.problem ?? `HTTP ${answer.status}`}` };
  }
  if (answer.verdict.safety === 'unknown') {
    const hint = answer.truncated ? '' : ' (is the served model a Qwen3Guard-Gen model, and --server right?)';
    return { ...result, status: 'error', message: `${answer.problem ?? 'cannot read a verdict'}${hint}: ${JSON.stringify(cutRaw(answer.raw).slice(0, 120))}` };
  }
  const expect = c.expect!;
  const problems: Problem[] = [];
  const got = answer.verdict.safety as Safety;
  const read = readAs(got, controversialAs);
  if (!expect.safety.includes(got) && !expect.safety.includes(read as Safety)) {
    const reading = got === 'controversial' ? ` (read as ${read} with --controversial-as ${controversialAs})` : '';
    problems.push({ text: `expected ${expect.safety.join(' or ')}, got ${got}${reading}` });
  }
  if (answer.serverLevel !== undefined) {
    const level = answer.serverLevel;
    if (level !== 'safe' && level !== 'controversial' && level !== 'unsafe') {
      problems.push({ text: `the server's level "${level}" is not safe, controversial or unsafe`, always: true });
    } else if (level !== got) {
      // Why (the app's substring matching) is explained once under the table, not per case.
      problems.push({
        text: `the server's level "${level}" disagrees with its own text ${JSON.stringify(answer.raw.slice(0, 80))} (${got}); clients reading "level" get the wrong verdict`,
        always: true,
      });
    }
  }
  let note: string | undefined;
  if (expect.categories?.length) {
    if (answer.parsed.categoriesReported) {
      const missing = expect.categories.filter((name) => !answer.verdict.categories.includes(name));
      if (missing.length) problems.push({ text: `missing ${missing.length === 1 ? 'category' : 'categories'} ${missing.join(', ')} (got ${answer.verdict.categories.join(', ') || 'None'})` });
    } else {
      note = `categories not checked: the answer names none (expected ${expect.categories.join(', ')})`;
    }
  }
  if (expect.refusal !== undefined) {
    const want = expect.refusal ? 'Yes' : 'No';
    if (answer.verdict.refusal === null) problems.push({ text: `no Refusal line in the answer (expected Refusal: ${want})` });
    else if (answer.verdict.refusal !== expect.refusal) problems.push({ text: `expected Refusal: ${want}, got Refusal: ${answer.verdict.refusal ? 'Yes' : 'No'}` });
  }
  if (c.maxLatencyMs !== undefined && answer.latencyMs > c.maxLatencyMs) {
    problems.push({ text: `answered in ${ms(answer.latencyMs)}, over the case's limit of ${ms(c.maxLatencyMs)}` });
  }
  if (problems.length === 0) return { ...result, ...(note ? { message: note } : {}) };
  const status: Status = problems.some((p) => p.always) ? 'fail' : c.severity;
  return { ...result, status, message: problems.map((p) => p.text).join('; ') };
}

/** The request a probe sends. */
export function probeInput(c: SuiteCase, maxModelLen: number): GuardInput {
  const probe = c.probe!;
  switch (probe.kind) {
    case 'empty-text':
      return { text: '' };
    case 'oversized-body': {
      const bytes = probe.bytes ?? OVERSIZED_BODY_BYTES;
      const filler = 'The quick brown fox jumps over the lazy dog. ';
      return { text: filler.repeat(Math.ceil(bytes / filler.length)).slice(0, bytes) };
    }
    case 'over-context':
      // One token per word with Qwen's tokenizer (" hello" is one token), so this is longer
      // than the context by 512 tokens even before the chat template is added.
      return { text: Array.from({ length: maxModelLen + 512 }, () => 'hello').join(' ') };
  }
}

function acceptedBy(accept: ProbeAccept, answer: ModerationResult): boolean {
  if (accept === 'verdict') return answer.status >= 200 && answer.status < 300 && answer.verdict.safety !== 'unknown';
  if (accept === '4xx') return answer.status >= 400 && answer.status < 500;
  return answer.status === accept;
}

function describeAnswer(answer: ModerationResult): string {
  if (answer.status >= 200 && answer.status < 300) return answer.verdict.safety === 'unknown' ? `HTTP ${answer.status} without a readable verdict` : `HTTP ${answer.status} with a verdict (${answer.verdict.safety})`;
  return answer.problem ?? `HTTP ${answer.status}`;
}

function describeAccept(accept: readonly ProbeAccept[]): string {
  return accept.map((a) => (a === 'verdict' ? 'a verdict' : a === '4xx' ? 'a 4xx' : `HTTP ${a}`)).join(' or ');
}

async function runProbe(client: GuardClient, c: SuiteCase, settings: SuiteSettings, followUps: CaseResult[]): Promise<CaseResult> {
  const probe = c.probe!;
  const what = { 'empty-text': 'an empty text', 'oversized-body': 'a body over the size limit', 'over-context': `a text over ${settings.maxModelLen} tokens (--max-model-len)` }[probe.kind];
  let answer: ModerationResult;
  try {
    answer = await client.moderate(probeInput(c, settings.maxModelLen));
  } catch (error) {
    if (error instanceof GuardClientError && error.kind === 'timeout') {
      return { ...base(c), status: 'error', verdict: NO_VERDICT, latencyMs: null, message: `${noAnswer(error, settings)} to ${what}` };
    }
    // The server dropped the connection: it crashed or gave up on the request.
    const afterwards = await followUp(client, settings, c, followUps);
    return {
      ...base(c),
      status: c.severity,
      verdict: NO_VERDICT,
      latencyMs: null,
      message: `${what}: ${noAnswer(error, settings)}${afterwards ? `; afterwards ${afterwards.text}` : '; the server still answers'}`,
    };
  }
  let verdictText = `${what} got ${describeAnswer(answer)}`;
  let bad = false;
  if (answer.status >= 500) {
    verdictText += '; bad input must get a 4xx, never a 5xx';
    bad = true;
  } else if (!probe.accept.some((a) => acceptedBy(a, answer))) {
    verdictText += `; expected ${describeAccept(probe.accept)}`;
    bad = true;
  }
  const afterwards = await followUp(client, settings, c, followUps);
  // The probe's own answer was fine but the plain request ran out of time: could not tell.
  const status: Status = bad || (afterwards && !afterwards.timedOut) ? c.severity : afterwards ? 'error' : 'pass';
  return {
    ...base(c),
    status,
    verdict: answer.verdict,
    latencyMs: answer.latencyMs,
    httpStatus: answer.status,
    ...(answer.serverLevel !== undefined ? { serverLevel: answer.serverLevel } : {}),
    raw: cutRaw(answer.raw),
    message: `${verdictText}; ${afterwards ? `afterwards ${afterwards.text}` : 'the server still answers'}`,
  };
}

/** A plain request after a probe; null when the server answered it with a verdict. */
async function followUp(client: GuardClient, settings: SuiteSettings, probe: SuiteCase, followUps: CaseResult[]): Promise<{ text: string; timedOut: boolean } | null> {
  const id = `${probe.id}:follow-up`;
  try {
    const answer = await client.moderate({ text: FOLLOW_UP_TEXT });
    const fine = answer.ok && answer.verdict.safety !== 'unknown';
    followUps.push({ id, status: fine ? 'pass' : 'fail', expected: [], verdict: answer.verdict, latencyMs: answer.latencyMs, httpStatus: answer.status });
    if (fine) return null;
    return { text: `the server no longer judges a plain request: ${describeAnswer(answer)}`, timedOut: false };
  } catch (error) {
    const timedOut = error instanceof GuardClientError && error.kind === 'timeout';
    followUps.push({ id, status: 'error', expected: [], verdict: NO_VERDICT, latencyMs: null });
    return { text: `the server no longer answers: ${noAnswer(error, settings).replace(/^no answer: /, '')}`, timedOut };
  }
}
