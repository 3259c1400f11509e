/**
 * Several commands in one ssh session: the script the host runs (every word a positional
 * parameter, never script text), its arguments, and the reader of the frames it streams back.
 */
import type { ExecOptions, ExecResult } from '../exec.js';

export interface QueuedRun {
  command: string;
  args: readonly string[];
  options: ExecOptions;
  resolve(result: ExecResult): void;
}

/** At most this many commands share one session (sshd starts them all at once on the host). */
export const RUN_BATCH_MAX = 16;
export const DEFAULT_MAX_BUFFER = 16 * 1024 * 1024;

export function batchToken(): string {
  return `gd${Math.random().toString(16).slice(2, 10)}${Date.now().toString(16)}`;
}

export function lostResult(item: QueuedRun, durationMs: number): ExecResult {
  return { command: item.command, args: item.args, exitCode: null, stdout: '', stderr: '', timedOut: false, notFound: false, failed: false, durationMs: Math.round(durationMs) };
}

/** The batch script's positional parameters: the token, then per command its time limit (s), its word count and its words. */
export function batchWords(token: string, batch: ReadonlyArray<{ command: string; args: readonly string[]; options: { timeoutMs: number } }>): string[] {
  return [token, ...batch.flatMap((b) => [String(Math.max(1, Math.ceil(b.options.timeoutMs / 1000))), String(1 + b.args.length), b.command, ...b.args])];
}

/**
 * Runs several commands on the host at once and sends each result back as soon as it ends:
 * `TOKEN index exit-status stdout-bytes stderr-bytes`, then the bytes of standard output and
 * of standard error. The commands' words are positional parameters, reached from `eval` only
 * as "${N}" references built from numbers, so nothing in a word is ever script text. Finished
 * commands report on a private FIFO; only the main loop writes to the session's output.
 */
export const RUN_BATCH_SCRIPT = [
  't=$1; shift',
  'd=$(mktemp -d "${TMPDIR:-/tmp}/gd-run.XXXXXX") || exit 97',
  "trap 'rm -rf \"$d\"' EXIT",
  'mkfifo "$d/f" || exit 97',
  'exec 3<>"$d/f"',
  'n=0; i=1',
  'while [ "$i" -lt "$#" ]; do',
  '  eval "s=\\${$i} c=\\${$((i + 1))}"',
  '  r=; j=$((i + 2)); e=$((i + 2 + c))',
  '  while [ "$j" -lt "$e" ]; do r="$r \\"\\${$j}\\""; j=$((j + 1)); done',
  '  { eval "timeout -k 2 \\"\\$s\\" $r" </dev/null >"$d/$n.o" 2>"$d/$n.e"; echo "$n $?" >&3; } >/dev/null 2>&1 &',
  '  n=$((n + 1)); i=$e',
  'done',
  'k=0',
  'while [ "$k" -lt "$n" ] && read -r m x <&3; do',
  '  printf \'%s %s %s %s %s\\n\' "$t" "$m" "$x" "$(wc -c <"$d/$m.o")" "$(wc -c <"$d/$m.e")"',
  '  cat "$d/$m.o" "$d/$m.e"',
  '  k=$((k + 1))',
  'done',
].join('\n');

/** Reads RUN_BATCH_SCRIPT's output as it streams in; anything before a frame (a chatty login) is skipped. */
export class BatchFrames {
  private chunks: Buffer[] = [];
  private length = 0;
  private body: { index: number; exitCode: number; outBytes: number; errBytes: number } | null = null;
  private readonly header: RegExp;
  count = 0;

  constructor(
    token: string,
    private readonly onFrame: (frame: { index: number; exitCode: number; stdout: Buffer; stderr: Buffer }) => void,
  ) {
    this.header = new RegExp(`(?:^|\\n)${token} (\\d+) (\\d+) +(\\d+) +(\\d+)\\n`);
  }

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.length += chunk.length;
    for (;;) {
      if (this.body) {
        const need = this.body.outBytes + this.body.errBytes;
        if (this.length < need) return;
        const all = this.take();
        const { index, exitCode, outBytes } = this.body;
        this.body = null;
        this.keep(all.subarray(need));
        this.count += 1;
        this.onFrame({ index, exitCode, stdout: all.subarray(0, outBytes), stderr: all.subarray(outBytes, need) });
        continue;
      }
      const all = this.take();
      const m = this.header.exec(all.toString('latin1'));
      if (!m) {
        this.keep(all);
        return;
      }
      this.body = { index: Number(m[1]), exitCode: Number(m[2]), outBytes: Number(m[3]), errBytes: Number(m[4]) };
      this.keep(all.subarray(m.index + m[0].length));
    }
  }

  private take(): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.length);
    this.chunks = [];
    this.length = 0;
    return all;
  }

  private keep(rest: Buffer): void {
    if (rest.length === 0) return;
    this.chunks = [rest];
    this.length = rest.length;
  }
}
