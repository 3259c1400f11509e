/**
 * Log text as lines, and each line as its message: what `diagnose` reads. Lines are split from
 * a stream of chunks (a log of any size passes through in flat memory), with colours and
 * progress-bar redraws removed; the prefixes compose, journald, Ray, torchrun, docker's
 * timestamps and vLLM's process tags and log levels put before a message are taken off.
 */

// Colours, cursor moves and carriage-return progress redraws would hide words from the patterns.
const ANSI = /\x1b\[[0-9;?]*[ -\/]*[@-~]|\x1b\][^\x07]*(\x07|\x1b\\)/g;

/** One physical line as the user last saw it: colours gone, only the text after the last \r. */
function cleanLine(raw: string): string {
  let line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
  if (line.includes('\x1b')) line = line.replace(ANSI, '');
  // A progress bar redraws with \r: what the user last saw is the text after the last one.
  const cr = line.lastIndexOf('\r');
  return cr >= 0 ? line.slice(cr + 1) : line;
}

export function splitLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines.map(cleanLine);
}

/** Splits a stream of text chunks into clean lines; the last line needs no newline. */
export class LineSplitter {
  private rest = '';
  constructor(private readonly onLine: (line: string) => void) {}

  push(chunk: string): void {
    let start = 0;
    let nl = chunk.indexOf('\n');
    if (nl < 0) {
      this.rest += chunk;
      return;
    }
    this.onLine(cleanLine(this.rest + chunk.slice(0, nl)));
    this.rest = '';
    start = nl + 1;
    while ((nl = chunk.indexOf('\n', start)) >= 0) {
      this.onLine(cleanLine(chunk.slice(start, nl)));
      start = nl + 1;
    }
    this.rest = chunk.slice(start);
  }

  end(): void {
    if (this.rest !== '') this.onLine(cleanLine(this.rest));
    this.rest = '';
  }
}

// ---- prefixes: what compose, journald, Ray, torchrun and vLLM put before the message ----

const PREFIXES: readonly RegExp[] = [
  // ISO timestamps: docker logs --timestamps, TGI, many loggers (one space: a frame's indent stays).
  /^\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?\s/,
  // journald / syslog: "Nov 30 12:00:01 gpu-host dockerd[1234]: " (the month in the host's language: "6月 10 ...")
  /^\S+ {1,2}\d{1,2} \d\d:\d\d:\d\d \S+ [^\s:]+: /,
  // a rich console box: "│ ERROR ... │"
  /^[│┃] ?/,
  // compose: "vllm-1  | ", "guard_1 | "
  /^[\w.-]+\s+\| /,
  // vLLM and Ray process tags: "(APIServer pid=1) ", "(VllmWorker rank=0 pid=12) ", "(RayWorkerWrapper pid=9, ip=10.0.0.2) "
  /^\((?:[\w.-]+ )?(?:pid|rank)=[^)]*\) ?/,
  // torchrun: "[rank0]: "
  /^\[rank\d+\]: ?/,
  // the kernel's ring buffer: "[183042.118204] "
  /^\[ *\d+\.\d+\] /,
];

// vLLM "ERROR 11-21 10:31:55 [core.py:708] " (before 0.8: "ERROR 09-27 06:46:46 engine.py:157] "; some
// builds add the pid: "ERROR 56542 [async_llm_engine.py:64] "), uvicorn "ERROR:    ", logging
// "ERROR:root:", TGI "ERROR ".
const LEVEL = /^(INFO|WARNING|WARN|ERROR|DEBUG|CRITICAL|FATAL|TRACE)(?:(?: \d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?)?(?: \d+)? (?:\[[^\]]*\]|[\w.]+:\d+\]) |:[\w.]*:|:\s+|\s+)/;

export interface ParsedLine {
  /** The log level the line's prefix names, upper case; null when it names none. */
  level: string | null;
  /** The line without its prefixes; leading spaces of the message itself (traceback frames) kept. */
  message: string;
}

export function parseLine(line: string): ParsedLine {
  let message = line;
  for (let pass = 0; pass < 6; pass++) {
    let stripped = false;
    for (const re of PREFIXES) {
      const m = re.exec(message);
      if (m) {
        message = message.slice(m[0].length);
        stripped = true;
      }
    }
    if (!stripped) break;
  }
  const m = LEVEL.exec(message);
  if (!m) return { level: null, message };
  return { level: m[1]!, message: message.slice(m[0].length) };
}
