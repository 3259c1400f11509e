/**
 * The diagnose matcher: log lines (and, for a container, its state) in, a diagnosis out. Each
 * finding names the signature, its cause and fix, and the matching lines with 1-based line
 * numbers in their source. Used by `guard-doctor diagnose` and by `up` when the container fails.
 *
 * It reads line by line and keeps only what it reports (a few lines per finding, the last
 * traceback, the health evidence), so a log of any size streams through in flat memory.
 *
 * The verdict fails closed: a known signature is a `known-failure`; error-looking lines that no
 * signature explains are an `unrecognized-failure`; a log is `healthy` only when it shows the
 * server finished starting (and nothing failed after that); anything else cannot be told.
 */
import { MODEL_PATH_HINT, SIGNATURES, STATE_SIGNATURES, type Signature } from './data/signatures.js';
import { LiteralScanner, requiredLiterals } from './literal-scan.js';
import { LineSplitter, parseLine, type ParsedLine } from './log-lines.js';

export { LineSplitter, parseLine, splitLines, type ParsedLine } from './log-lines.js';

export interface LogSource {
  /** Where the text came from: a file path, `standard input`, `container NAME`. */
  name: string;
  text: string;
}

/** What `docker inspect` says about a container's last run, as far as diagnose needs it. */
export interface ContainerStateFacts {
  status: string;
  exitCode: number | null;
  oomKilled: boolean;
  /** The daemon's own error for the container (State.Error), e.g. a port that was taken. */
  error: string | null;
}

export interface FindingLine {
  n: number;
  text: string;
  source: string;
}

export interface Finding {
  id: string;
  cause: string;
  fix: string;
  lines: FindingLine[];
  /** All matching lines, when more than `lines` holds. */
  matches: number;
}

/**
 * `known-failure`: findings from signatures. `unrecognized-failure`: the log failed in a way no
 * signature knows. `healthy`: the server finished starting (see `evidence`). `undetermined`: no
 * failure, but no sign of a finished start either. `empty`: nothing to read.
 */
export type DiagnosisKind = 'known-failure' | 'unrecognized-failure' | 'healthy' | 'undetermined' | 'empty';

export interface Diagnosis {
  kind: DiagnosisKind;
  findings: Finding[];
  /** For `healthy`: the lines that show it, the strongest first. */
  evidence: FindingLine[];
  sources: { name: string; lines: number }[];
}

export interface DiagnoseOptions {
  state?: ContainerStateFacts | null;
  /** Paths the caller knows are the model's (the container model dir, the host folder). */
  modelPaths?: readonly string[];
  /** Matching lines kept per finding (default 5). */
  maxLines?: number;
}

/** Longest line kept in a finding; the rest is cut with an ellipsis. */
const MAX_LINE_CHARS = 500;
/** Longest line matched; a longer one is matched on its start (a binary blob, a minified dump). */
const MAX_MATCH_CHARS = 16 * 1024;

// ---- what failure and health look like without a signature ----

const TRACEBACK_START = /^\s*Traceback \(most recent call last\):/;
// A traceback frame; pasted logs sometimes lose the indent, so it is not required.
const FRAME = /^\s*File "[^"]*", line \d+/;
/** Python 3.11+ points at the failing expression with a line of carets. */
const CARETS = /^[\s^~]+$/;
const TRACEBACK_CHAIN = /^(During handling of the above exception|The above exception was the direct cause)/;
const EXCEPTION_LINE = /^[A-Za-z_][\w.]*(?:: |:?\s*$)/;
/** An exception named on its own line: RuntimeError:, ValueError:, torch.OutOfMemoryError: ... */
const NAMED_EXCEPTION = /^(?:[A-Za-z_]\w*\.)*[A-Z]\w*(?:Error|Exception): /;
/** A line that starts with an exception's name (never a line of source code). */
const NAMED_EXCEPTION_START = /^(?:[A-Za-z_]\w*\.)*[A-Z]\w*(?:Error|Exception|Exit|Interrupt)\b/;
const QUIET_LEVELS = new Set(['INFO', 'DEBUG', 'TRACE', 'WARNING', 'WARN']);
const LOUD_LEVELS = new Set(['ERROR', 'CRITICAL', 'FATAL']);
const ERROR_MESSAGE: readonly RegExp[] = [
  NAMED_EXCEPTION,
  /\bexited with code [1-9]\d*\b/,
  /^(?:Error|error|FATAL|Fatal error|panic):? /,
  /docker: Error response from daemon/,
  /Segmentation fault|core dumped|Fatal Python error/,
  /^[EF]\d{4} \d\d:\d\d:\d\d/,
  /\blevel=(?:error|fatal)\b/,
  // JSON logs (TGI --json-output, structlog): "level":"ERROR".
  /"level":\s*"(?:ERROR|FATAL|CRITICAL|error|fatal|critical)"/,
  // Go: "panic: ...", "panic recovered:", "runtime error: invalid memory address ...".
  /\bpanic(?: recovered)?:|^runtime error: |^goroutine \d+ \[/,
];
/**
 * A request the client got wrong (HTTP 4xx): the server itself is fine. vLLM logs an over-long
 * input (which the edge-case suite sends on purpose) with a traceback under "Error in
 * preprocessing prompt inputs", ending in "maximum context length is N tokens".
 */
const CLIENT_ERROR = /\bcode[=:]\s*4\d\d\b|\bHTTP\/1\.1" 4\d\d\b|\b4\d\d (?:Bad Request|Unauthorized|Forbidden|Not Found|Unprocessable Entity)\b|Error in preprocessing prompt inputs|maximum context length is \d+ tokens|Please reduce the length of the (?:input|messages)/;

/** Lines that show a server finished starting and listens. */
/** Lines that show a server finished starting and listens, strongest evidence first. */
const HEALTHY: readonly RegExp[] = [
  /Application startup complete/,
  /The server is fired up and ready to roll/,
  /text_generation_router.*\bConnected\b|^Connected$/,
  /Uvicorn running on/,
  /Running on local URL:/,
  // Flask, gunicorn, llama.cpp's server, ollama.
  /^\s*\* Running on https?:\/\/|Listening at: https?:\/\/|server is listening on https?:\/\//,
  /Listening on \S+:\d+/,
  // vLLM has loaded the engine and opens its port (a bind failure after it is an error line).
  /Starting vLLM (?:API )?server (?:\d+ )?on https?:\/\//,
  // A server that answers: a 2xx in uvicorn's access log, vLLM's throughput lines while it serves.
  /"(?:GET|POST|PUT) \S+ HTTP\/[\d.]+" 2\d\d\b/,
  /Avg prompt throughput: [\d.]+ tokens\/s/,
];

function isErrorLine(parsed: ParsedLine): boolean {
  if (parsed.level && QUIET_LEVELS.has(parsed.level)) return false;
  if (CLIENT_ERROR.test(parsed.message)) return false;
  // An indented line under an ERROR prefix continues something above it (a frame, a wrapped message).
  if (parsed.level && LOUD_LEVELS.has(parsed.level)) return parsed.message.trim() !== '' && !/^\s/.test(parsed.message);
  return ERROR_MESSAGE.some((re) => re.test(parsed.message));
}

function cut(line: string): string {
  const trimmed = line.trimEnd();
  return trimmed.length > MAX_LINE_CHARS ? `${trimmed.slice(0, MAX_LINE_CHARS - 1)}…` : trimmed;
}

// ---- the matcher ----

interface SignatureState {
  signature: Signature;
  lines: FindingLine[];
  matches: number;
  first: RegExpMatchArray | null;
  /** Position of the first match: source index and line. */
  at: [number, number] | null;
  /** A match on a line that is not INFO/DEBUG/WARNING: never outlived. */
  loud: boolean;
  /** A quiet (warning-level) match with no sign of a finished start after it yet. */
  quietPending: boolean;
}

/**
 * Which lines are worth running a signature's expressions on: one scan of the line for the
 * literals they require (see literal-scan.ts). Keys 0..n-1 are the signatures, then the health
 * markers, then the context patterns.
 */
const HEALTHY_KEY = SIGNATURES.length;
const CONTEXT_PATTERNS = [...new Set(SIGNATURES.flatMap((s) => (s.contextual ?? []).map((c) => c.after)))];
const CONTEXT_KEY = HEALTHY_KEY + 1;
const KEYS = CONTEXT_KEY + CONTEXT_PATTERNS.length;

function buildScanner(): { scanner: LiteralScanner; always: number[] } {
  const literals: { literal: string; key: number }[] = [];
  const always: number[] = [];
  const add = (key: number, patterns: readonly RegExp[]) => {
    const found = patterns.map((re) => requiredLiterals(re.source));
    if (found.some((l) => l === null)) always.push(key);
    else for (const list of found) for (const literal of list!) literals.push({ literal, key });
  };
  SIGNATURES.forEach((s, key) => add(key, [...s.patterns, ...(s.modelPathPatterns ?? []), ...(s.contextual ?? []).map((c) => c.pattern)]));
  add(HEALTHY_KEY, HEALTHY);
  CONTEXT_PATTERNS.forEach((re, i) => add(CONTEXT_KEY + i, [re]));
  return { scanner: new LiteralScanner(literals), always };
}
let prefilter: ReturnType<typeof buildScanner> | null = null;

const ENGINE_ID = 'engine-core-failed';

/**
 * Feeds lines one at a time; `finish()` gives the diagnosis. Several sources are read one after
 * another (`begin(name)` before each), each numbered from line 1.
 */
export class LogMatcher {
  private readonly modelPaths: readonly string[];
  private readonly maxLines: number;
  private readonly states: SignatureState[];
  private readonly sources: { name: string; lines: number; blank: boolean }[] = [];
  private sourceIndex = -1;
  private n = 0;
  /** Last line (per source) on which each context pattern matched. */
  private contextSeen = new Map<RegExp, number>();
  private inTraceback: FindingLine | null = null;
  /** The previous line was a traceback frame (`File "...", line N`), so this one quotes code. */
  private afterFrame = false;
  private frameLine = false;
  /** Exception lines that end tracebacks, first one first (a few kept). */
  private readonly tracebackEnds: FindingLine[] = [];
  private tracebackCount = 0;
  /** Other error-looking lines (a few kept) and how many there were. */
  private readonly errorLines: FindingLine[] = [];
  private errorCount = 0;
  /** The last error-looking line, and where: what an engine failure points back to. */
  private lastError: FindingLine | null = null;
  private engineRoot: FindingLine | null = null;
  private readonly healthy: FindingLine[] = [];
  private bestHealthy: { line: FindingLine; rank: number } | null = null;
  /** Error-looking lines after the last health evidence. */
  private errorsAfterHealthy = 0;

  private state: ContainerStateFacts | null;
  /** candidates[key] === generation: the line holds a literal of that key. */
  private readonly marks = new Uint32Array(KEYS);
  private generation = 0;

  constructor(options: DiagnoseOptions = {}) {
    this.state = options.state ?? null;
    this.modelPaths = options.modelPaths ?? [];
    this.maxLines = options.maxLines ?? 5;
    this.states = SIGNATURES.map((signature) => ({ signature, lines: [], matches: 0, first: null, at: null, loud: false, quietPending: false }));
  }

  /** The container's state, when it is known only after the matcher was made. */
  setState(state: ContainerStateFacts | null): void {
    this.state = state;
  }

  begin(name: string): void {
    this.sources.push({ name, lines: 0, blank: true });
    this.sourceIndex = this.sources.length - 1;
    this.n = 0;
    this.contextSeen = new Map();
    this.inTraceback = null;
  }

  /** Reads a whole text as one source. */
  text(source: LogSource): void {
    this.begin(source.name);
    const splitter = new LineSplitter((line) => this.line(line));
    splitter.push(source.text);
    splitter.end();
  }

  line(raw: string): void {
    if (this.sourceIndex < 0) this.begin('log');
    const source = this.sources[this.sourceIndex]!;
    const n = ++this.n;
    source.lines = n;
    const line = raw.length > MAX_MATCH_CHARS ? raw.slice(0, MAX_MATCH_CHARS) : raw;
    if (!/\S/.test(line)) return;
    source.blank = false;
    const parsed = parseLine(line);
    const at = (): FindingLine => ({ n, text: cut(line), source: source.name });

    const candidates = this.candidates(line);
    for (let i = 0; i < CONTEXT_PATTERNS.length; i++) {
      if (candidates[CONTEXT_KEY + i] === this.generation && CONTEXT_PATTERNS[i]!.test(parsed.message)) this.contextSeen.set(CONTEXT_PATTERNS[i]!, n);
    }

    // A traceback's frames quote source code (`raise RuntimeError("Engine core initialization failed. "`):
    // words in code are not what happened.
    // A frame, or the code line right after one (also in a log cut in the middle of a traceback).
    // (Not when the frame has no source to show, as in a .pyx file: then the exception follows at once.)
    const exceptionNow = NAMED_EXCEPTION_START.test(parsed.message.trimStart());
    const inFrame = !exceptionNow && (FRAME.test(parsed.message) || this.afterFrame || (this.inTraceback !== null && /^\s/.test(parsed.message)));
    this.frameLine = FRAME.test(parsed.message);
    let matchedAny = false;
    for (let key = 0; key < this.states.length && !inFrame; key++) {
      if (candidates[key] !== this.generation) continue;
      const state = this.states[key]!;
      const m = this.matchSignature(state.signature, parsed.message, line, n);
      if (!m) continue;
      matchedAny = true;
      if (state.signature.id === ENGINE_ID && this.lastError) this.engineRoot = this.lastError;
      state.matches += 1;
      if (parsed.level && QUIET_LEVELS.has(parsed.level)) state.quietPending = true;
      else state.loud = true;
      if (!state.first) {
        state.first = m;
        state.at = [this.sourceIndex, n];
      }
      if (state.lines.length < this.maxLines) state.lines.push(at());
    }

    const rank = candidates[HEALTHY_KEY] === this.generation ? HEALTHY.findIndex((re) => re.test(parsed.message)) : -1;
    if (rank >= 0) {
      // A warning the server started in spite of (a cache it could not write, say) did not break it.
      for (const state of this.states) state.quietPending = false;
      this.noteHealthy(at(), rank);
      this.errorsAfterHealthy = 0;
    }
    this.trackErrors(parsed, at, matchedAny);
  }

  /** Marks the keys whose literals occur in the line (and those that are always tried). */
  private candidates(line: string): Uint32Array {
    prefilter ??= buildScanner();
    const generation = (this.generation = (this.generation + 1) >>> 0 || 1);
    const marks = this.marks;
    for (const key of prefilter.always) marks[key] = generation;
    prefilter.scanner.scan(line, (key) => {
      marks[key] = generation;
    });
    return marks;
  }

  /** Keeps the strongest health evidence (the earliest of its rank) and a few more lines. */
  private noteHealthy(line: FindingLine, rank: number): void {
    if (this.bestHealthy === null || rank < this.bestHealthy.rank) this.bestHealthy = { line, rank };
    if (this.healthy.length < this.maxLines) this.healthy.push(line);
  }

  private trackErrors(parsed: ParsedLine, at: () => FindingLine, matchedAny: boolean): void {
    const { message } = parsed;
    const codeLine = this.afterFrame && !NAMED_EXCEPTION_START.test(message.trimStart());
    this.afterFrame = this.frameLine;
    if (this.frameLine || codeLine || CARETS.test(message)) return;
    // Between two chained tracebacks; the exception lines around it carry the words.
    if (TRACEBACK_CHAIN.test(message)) return;
    if (TRACEBACK_START.test(message)) {
      this.inTraceback = at();
      return;
    }
    if (this.inTraceback) {
      if (message.trim() === '' || /^\s/.test(message) || TRACEBACK_CHAIN.test(message)) return;
      // Another process's ordinary log line, interleaved with the traceback.
      if (parsed.level && QUIET_LEVELS.has(parsed.level)) return;
      const end = EXCEPTION_LINE.test(message) ? at() : this.inTraceback;
      this.inTraceback = null;
      if (CLIENT_ERROR.test(message)) return;
      this.tracebackCount += 1;
      if (this.tracebackEnds.length < this.maxLines) this.tracebackEnds.push(end);
      this.noteError(end);
      return;
    }
    if (isErrorLine(parsed)) {
      const line = at();
      this.errorCount += 1;
      if (this.errorLines.length < this.maxLines) this.errorLines.push(line);
      // "EngineCore failed to start." is the engine's own headline, not its cause.
      if (!matchedAny || !this.isEngineLine(message)) this.noteError(line);
    }
  }

  private isEngineLine(message: string): boolean {
    return this.states.some((s) => s.signature.id === ENGINE_ID && s.signature.patterns.some((re) => re.test(message)));
  }

  private noteError(line: FindingLine): void {
    this.errorsAfterHealthy += 1;
    if (!this.isEngineLine(line.text)) this.lastError = line;
  }

  private matchSignature(signature: Signature, message: string, line: string, n: number): RegExpMatchArray | null {
    if (signature.unless?.some((re) => re.test(message))) return null;
    if (signature.requireOnLine && !signature.requireOnLine.test(message)) return null;
    for (const re of signature.patterns) {
      const m = message.match(re);
      if (m) return m;
    }
    if (signature.modelPathPatterns && (MODEL_PATH_HINT.test(line) || this.modelPaths.some((p) => p.length > 1 && line.includes(p)))) {
      for (const re of signature.modelPathPatterns) {
        const m = message.match(re);
        if (m) return m;
      }
    }
    for (const context of signature.contextual ?? []) {
      const seen = this.contextSeen.get(context.after);
      if (seen === undefined || n - seen > context.within) continue;
      const m = message.match(context.pattern);
      if (m) return m;
    }
    return null;
  }

  finish(): Diagnosis {
    if (this.inTraceback) {
      // A log that ends inside a traceback (cut off, or the process died mid-print).
      this.tracebackEnds.push(this.inTraceback);
      this.tracebackCount += 1;
      this.noteError(this.inTraceback);
      this.inTraceback = null;
    }
    const sources = this.sources.map((s) => ({ name: s.name, lines: s.lines }));
    const findings: Finding[] = [];
    for (const state of this.states) {
      if (!state.first || state.signature.id === ENGINE_ID) continue;
      if (!state.loud && !state.quietPending) continue;
      const { signature, first } = state;
      findings.push({
        id: signature.id,
        cause: typeof signature.cause === 'function' ? signature.cause(first) : signature.cause,
        fix: typeof signature.fix === 'function' ? signature.fix(first) : signature.fix,
        lines: state.lines,
        matches: state.matches,
      });
    }
    const stateFacts = this.state;
    // 137 = killed by SIGKILL; only with OOMKilled is it the kernel's OOM killer (not `docker kill`).
    if (stateFacts?.oomKilled && !findings.some((f) => f.id === 'host-oom-killed')) {
      const { cause, fix } = STATE_SIGNATURES['host-oom-killed'];
      findings.push({ id: 'host-oom-killed', cause, fix, lines: [], matches: 0 });
    }
    const engine = this.states.find((s) => s.signature.id === ENGINE_ID && s.first);
    if (engine) findings.push(this.engineFinding(engine, findings));

    if (findings.length > 0) return { kind: 'known-failure', findings, evidence: [], sources };

    const exitedBadly = stateFacts ? failedExit(stateFacts) : null;
    const errors = this.tracebackCount + this.errorCount;
    const failedAfterHealthy = this.healthy.length > 0 && this.errorsAfterHealthy > 0;
    if ((errors > 0 && (this.healthy.length === 0 || failedAfterHealthy)) || exitedBadly !== null) {
      return { kind: 'unrecognized-failure', findings: [this.unrecognized(exitedBadly)], evidence: [], sources };
    }
    if (this.bestHealthy) {
      const best = this.bestHealthy.line;
      const evidence = [best, ...this.healthy.filter((l) => l !== best)].slice(0, this.maxLines);
      return { kind: 'healthy', findings: [], evidence, sources };
    }
    if (this.sources.every((s) => s.blank)) return { kind: 'empty', findings: [], evidence: [], sources };
    return { kind: 'undetermined', findings: [], evidence: [], sources };
  }

  private engineFinding(engine: SignatureState, others: readonly Finding[]): Finding {
    const { signature } = engine;
    const base = { id: signature.id, matches: engine.matches };
    const root = others[0];
    if (root) {
      const where = root.lines[0] ? ` (line ${root.lines[0].n})` : '';
      return {
        ...base,
        cause: `vLLM's engine core process failed to start because of the failure above it: ${root.id}${where}`,
        fix: `fix ${root.id} (above); this line only reports that the engine died of it`,
        lines: engine.lines,
      };
    }
    const cause = this.engineRoot;
    if (cause) {
      return {
        ...base,
        cause: `vLLM's engine core process failed to start; the root cause it printed above (line ${cause.n}): ${parseLine(cause.text).message.trim()}`,
        fix: "guard-doctor does not know this root cause: read the engine's traceback that ends at the quoted line; check that the image's vLLM supports this model and GPU (`guard-doctor check`), and search the quoted line in vLLM's issues",
        lines: [cause, ...engine.lines].slice(0, this.maxLines),
      };
    }
    return {
      ...base,
      cause: "vLLM's engine core process failed to start, and the log holds no root cause above it: the engine process's own output is missing",
      fix: 'read the whole log, standard error included (`docker logs NAME 2>&1`), from the start; rerun with --env VLLM_LOGGING_LEVEL=DEBUG if it stays silent',
      lines: engine.lines,
    };
  }

  private unrecognized(exitedBadly: string | null): Finding {
    // The traceback's exception line first (the first traceback is usually the root cause), then the other error lines.
    const seen = new Set<string>();
    const lines = [...this.tracebackEnds, ...this.errorLines].filter((l) => {
      const key = `${l.source}:${l.n}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
    const first = lines[0] ? parseLine(lines[0].text).message.trim() : null;
    const what = first ? `: ${first.length > 200 ? `${first.slice(0, 199)}…` : first}` : exitedBadly ? ` (${exitedBadly})` : '';
    return {
      id: 'unrecognized-failure',
      cause: `the log shows a failure that guard-doctor does not recognize${what}`,
      fix: "read the quoted lines and the traceback above them; `guard-doctor check` tests the host, GPU and model folder. guard-doctor cannot tell the cause, so it does not call this log healthy",
      lines: lines.slice(0, this.maxLines),
      matches: this.tracebackCount + this.errorCount,
    };
  }
}

/** A container that ended with an exit code that means it failed; null when it did not (or was stopped). */
function failedExit(state: ContainerStateFacts): string | null {
  if (state.status === 'running' || state.exitCode === null || state.exitCode === 0) return null;
  // docker stop / docker kill: SIGTERM (143), SIGKILL (137) without the OOM killer, Ctrl-C (130).
  if (!state.oomKilled && [130, 137, 143].includes(state.exitCode)) return null;
  return `the container exited with code ${state.exitCode}`;
}

/** The whole diagnosis of texts already in memory. */
export function diagnoseAll(sources: readonly LogSource[], options: DiagnoseOptions = {}): Diagnosis {
  const matcher = new LogMatcher(options);
  for (const source of sources) matcher.text(source);
  return matcher.finish();
}

/** The findings alone (what `up` reports when a launch fails). */
export function diagnose(sources: readonly LogSource[], options: DiagnoseOptions = {}): Finding[] {
  return diagnoseAll(sources, options).findings;
}

/** The state as one log-like line, so State.Error ("address already in use") is matched too. */
export function stateSource(container: string, state: ContainerStateFacts): LogSource | null {
  if (!state.error) return null;
  return { name: `docker inspect ${container} (State.Error)`, text: state.error };
}
