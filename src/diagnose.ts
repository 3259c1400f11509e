/**
 * The diagnose matcher: log text (and, for a container, its state) in, findings out. Each
 * finding names the signature, its cause and fix, and the matching lines with 1-based line
 * numbers in their source. Used by `guard-doctor diagnose` and by `up` when the container fails.
 */
import { MODEL_PATH_HINT, SIGNATURES, STATE_SIGNATURES, type Signature } from './data/signatures.js';

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

export interface DiagnoseOptions {
  state?: ContainerStateFacts | null;
  /** Paths the caller knows are the model's (the container model dir, the host folder). */
  modelPaths?: readonly string[];
  /** Matching lines kept per finding (default 5). */
  maxLines?: number;
}

/** Longest line kept in a finding; the rest is cut with an ellipsis. */
const MAX_LINE_CHARS = 500;

// Colours, cursor moves and carriage-return progress redraws would hide words from the patterns.
const ANSI = /\x1b\[[0-9;?]*[ -\/]*[@-~]|\x1b\][^\x07]*(\x07|\x1b\\)/g;

export function splitLines(text: string): string[] {
  const lines = text.replace(ANSI, '').split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  // A progress bar redraws with \r: what the user last saw is the text after the last one.
  return lines.map((line) => (line.includes('\r') ? line.slice(line.lastIndexOf('\r') + 1) : line));
}

function mentionsModelPath(line: string, modelPaths: readonly string[]): boolean {
  return MODEL_PATH_HINT.test(line) || modelPaths.some((p) => p.length > 1 && line.includes(p));
}

function matchLine(signature: Signature, line: string, modelPaths: readonly string[]): RegExpMatchArray | null {
  if (signature.unless?.some((re) => re.test(line))) return null;
  for (const re of signature.patterns) {
    const m = line.match(re);
    if (m) return m;
  }
  if (signature.modelPathPatterns && mentionsModelPath(line, modelPaths)) {
    for (const re of signature.modelPathPatterns) {
      const m = line.match(re);
      if (m) return m;
    }
  }
  return null;
}

function cut(line: string): string {
  const trimmed = line.trimEnd();
  return trimmed.length > MAX_LINE_CHARS ? `${trimmed.slice(0, MAX_LINE_CHARS - 1)}…` : trimmed;
}

export function diagnose(sources: readonly LogSource[], options: DiagnoseOptions = {}): Finding[] {
  const modelPaths = options.modelPaths ?? [];
  const maxLines = options.maxLines ?? 5;
  const split = sources.map((s) => ({ name: s.name, lines: splitLines(s.text) }));
  const findings: Finding[] = [];

  for (const signature of SIGNATURES) {
    const lines: FindingLine[] = [];
    let matches = 0;
    let first: RegExpMatchArray | null = null;
    for (const source of split) {
      source.lines.forEach((line, index) => {
        const m = matchLine(signature, line, modelPaths);
        if (!m) return;
        matches += 1;
        first ??= m;
        if (lines.length < maxLines) lines.push({ n: index + 1, text: cut(line), source: source.name });
      });
    }
    if (first) {
      findings.push({
        id: signature.id,
        cause: typeof signature.cause === 'function' ? signature.cause(first) : signature.cause,
        fix: typeof signature.fix === 'function' ? signature.fix(first) : signature.fix,
        lines,
        matches,
      });
    }
  }

  const state = options.state;
  // 137 = killed by SIGKILL; only with OOMKilled is it the kernel's OOM killer (not `docker kill`).
  if (state?.oomKilled && !findings.some((f) => f.id === 'host-oom-killed')) {
    const { cause, fix } = STATE_SIGNATURES['host-oom-killed'];
    findings.push({ id: 'host-oom-killed', cause, fix, lines: [], matches: 0 });
  }
  return findings;
}

/** The state as one log-like line, so State.Error ("address already in use") is matched too. */
export function stateSource(container: string, state: ContainerStateFacts): LogSource | null {
  if (!state.error) return null;
  return { name: `docker inspect ${container} (State.Error)`, text: state.error };
}
