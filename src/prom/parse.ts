/**
 * A streaming reader for the Prometheus text exposition format (version 0.0.4): the grammar of
 * every line, and the structure the reference parsers (prometheus/common `expfmt`, Prometheus'
 * own scrape parser) hold an exposition to.
 *
 * The body is fed in chunks (`push`) and read line by line; only the current partial line and
 * the state of the metric family being read are held, plus small summaries of the families
 * already read. So a 50 MB scrape costs memory in proportion to its longest line and its
 * largest family, never to the body.
 *
 * Errors are what a reference parser rejects: a line outside the grammar (names, label
 * syntax and escapes, values, integer timestamps), invalid UTF-8, a second HELP or TYPE for a
 * family, a TYPE after the family's samples, an unknown type, a bucket bound or quantile that
 * is not a number, a body that does not end in a line feed. Everything the reference parsers
 * accept but that still breaks dashboards is a warning: duplicate series, interrupted family
 * groups, histograms whose buckets do not add up; and the promtool-style lints (HELP, TYPE,
 * `_total`, base units, incomplete histograms and summaries) run from `lint/` when a family's
 * group ends. A sample without a TYPE line is untyped, which is valid. Every problem names its
 * line number and the line. The validator never throws.
 */
import { StringDecoder } from 'node:string_decoder';
import { isUtf8 } from 'node:buffer';
import { LabelTracker, lintFamily, type HistogramChildView, type SummaryChildView } from './lint/index.js';
import { formatNumber } from './lint/histogram.js';

export { NON_BASE_UNITS, unboundedValueReason } from './lint/index.js';

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
const METRIC_TYPES: ReadonlySet<string> = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

/** `error`: the exposition is invalid (fails `metrics.format`); `warning`: valid, but against convention or likely to mislead. */
export type ProblemSeverity = 'error' | 'warning';
/** syntax/structure/histogram: the format itself (`metrics.format`); naming/units/lint: promtool-style lints (`metrics.naming`). */
export type ProblemKind = 'syntax' | 'structure' | 'histogram' | 'naming' | 'units' | 'lint';

export interface Problem {
  /** 1-based line number in the body. */
  line: number;
  /** The line as it was (cut to LINE_TEXT_MAX characters). */
  text: string;
  message: string;
  severity: ProblemSeverity;
  kind: ProblemKind;
}

export interface SuspiciousValue {
  value: string;
  /** Why it looks unbounded: `url`, `id`, `free text`. */
  reason: string;
}

export interface LabelSummary {
  name: string;
  /** Distinct values seen; a lower bound when `capped`. */
  distinctValues: number;
  capped: boolean;
  /** A few values that look like URLs, ids or free text. */
  suspicious: SuspiciousValue[];
}

export interface FamilySummary {
  name: string;
  /** `null` when the family had no TYPE line (untyped). */
  type: MetricType | null;
  help: string | null;
  /** Line of its first HELP, TYPE or sample line. */
  firstLine: number;
  /** Children: distinct label sets, not counting `le`/`quantile` (a histogram child is one series of buckets). */
  seriesCount: number;
  sampleCount: number;
  /** Label names in order of first appearance, without `le` and `quantile`. */
  labels: LabelSummary[];
}

export interface Sample {
  /** The sample's own name (`x_bucket`, `x_total`, ...). */
  name: string;
  labels: Record<string, string>;
  value: number;
  line: number;
}

export interface ValidationResult {
  families: FamilySummary[];
  /** The first `maxProblems` problems, in line order. */
  problems: Problem[];
  /** All problems found, including those not kept. */
  problemCount: number;
  errorCount: number;
  warningCount: number;
  /** All problems by kind and severity, including those not kept. */
  countsByKind: Record<ProblemKind, { errors: number; warnings: number }>;
  lines: number;
  bytes: number;
  sampleCount: number;
  /** Samples of the families `keepSamples` asked for, by family name. */
  samples: Map<string, Sample[]>;
}

export interface ValidatorOptions {
  /** Keep the samples of these families (by family name); others are only summarised. */
  keepSamples?: (familyName: string) => boolean;
  /** Problems kept for the report (all are counted). Default 200. */
  maxProblems?: number;
  /** Distinct values remembered per label before counting stops. Default 1000. */
  maxLabelValues?: number;
  /** A line longer than this is a problem and is skipped without being held. Default 1 MiB. */
  maxLineChars?: number;
}

const LINE_TEXT_MAX = 200;
/** Labels that split a histogram or summary child into its buckets or quantiles. */
const BUCKET_LABELS: ReadonlySet<string> = new Set(['le', 'quantile']);

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const METRIC_NAME_STICKY = /[a-zA-Z_:][a-zA-Z0-9_:]*/y;
const LABEL_NAME_STICKY = /[a-zA-Z_][a-zA-Z0-9_]*/y;
const FLOAT = /^[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|inf|infinity|nan)$/i;
const TIMESTAMP = /^-?\d+$/;
const REPLACEMENT_CHAR = '\uFFFD';

interface HistogramChild extends HistogramChildView {
  lastLe: number | null;
  lastBucketValue: number;
}

/** What a family's earlier group left behind, so a later group of the same name continues it. */
interface EndedFamily {
  startedAt: number;
  type: MetricType | null;
  hasHelp: boolean;
  sawSample: boolean;
}

interface FamilyState {
  name: string;
  type: MetricType | null;
  help: string | null;
  /** The earlier group had a HELP line (this group continues it). */
  helpBefore: boolean;
  firstLine: number;
  firstText: string;
  sawSample: boolean;
  /** This group continues a family whose group ended earlier. */
  reopened: boolean;
  firstNonTotalSample: { line: number; text: string; name: string } | null;
  /** Series key -> line where it first appeared. */
  series: Map<string, number>;
  children: Set<string>;
  labels: LabelTracker;
  histogram: Map<string, HistogramChild>;
  summary: Map<string, SummaryChildView>;
  sampleCount: number;
  keep: boolean;
}

interface ParsedSample {
  name: string;
  labels: Array<[string, string]>;
  value: number;
}

export class ExpositionValidator {
  private readonly decoder = new StringDecoder('utf8');
  private partial = '';
  /** The partial line holds bytes that were not UTF-8. */
  private partialInvalid = false;
  /** The bytes of an incomplete UTF-8 sequence at the end of the last chunk. */
  private utf8Carry: Buffer = Buffer.alloc(0);
  private skippingLongLine = false;
  private lineNo = 0;
  private bytes = 0;
  private endedWithNewline = true;
  private current: FamilyState | null = null;
  /** Families whose group has ended, by name. */
  private readonly ended = new Map<string, EndedFamily>();
  /** Declared types of every family seen, to attribute `_bucket`/`_sum`/`_count` samples. */
  private readonly types = new Map<string, MetricType>();
  private readonly families: FamilySummary[] = [];
  private readonly problems: Problem[] = [];
  private problemCount = 0;
  private errorCount = 0;
  private warningCount = 0;
  private readonly countsByKind: Record<ProblemKind, { errors: number; warnings: number }> = {
    syntax: { errors: 0, warnings: 0 },
    structure: { errors: 0, warnings: 0 },
    histogram: { errors: 0, warnings: 0 },
    naming: { errors: 0, warnings: 0 },
    units: { errors: 0, warnings: 0 },
    lint: { errors: 0, warnings: 0 },
  };
  private sampleCount = 0;
  private readonly samples = new Map<string, Sample[]>();
  private readonly keepSamples: (familyName: string) => boolean;
  private readonly maxProblems: number;
  private readonly maxLabelValues: number;
  private readonly maxLineChars: number;
  private finished: ValidationResult | null = null;

  constructor(options: ValidatorOptions = {}) {
    this.keepSamples = options.keepSamples ?? (() => false);
    this.maxProblems = options.maxProblems ?? 200;
    this.maxLabelValues = options.maxLabelValues ?? 1000;
    this.maxLineChars = options.maxLineChars ?? 1024 * 1024;
  }

  /** Feed the next chunk of the body. */
  push(chunk: Buffer | string): void {
    if (this.finished) return;
    if (typeof chunk === 'string') {
      this.bytes += Buffer.byteLength(chunk);
      this.consume(chunk, null);
      return;
    }
    this.bytes += chunk.length;
    const invalid = this.invalidUtf8Pieces(chunk);
    this.consume(this.decoder.write(chunk), invalid);
  }

  /** The body is complete: close the last family and hand back the result. */
  end(): ValidationResult {
    if (this.finished) return this.finished;
    // Bytes of a sequence the body never completed are not UTF-8 either.
    this.consume(this.decoder.end(), this.utf8Carry.length > 0 ? new Set([0]) : null);
    if (this.partial.length > 0 || this.skippingLongLine) {
      const text = this.partial;
      this.partial = '';
      if (!this.skippingLongLine) {
        this.lineNo += 1;
        this.safeLine(text, this.partialInvalid);
      }
      this.endedWithNewline = false;
    }
    this.closeFamily();
    if (!this.endedWithNewline && this.lineNo > 0) {
      this.problem(this.lineNo, '', 'the body does not end with a line feed: the text format requires every line, the last one too, to end with "\\n"', 'error', 'syntax');
    }
    this.problems.sort((a, b) => a.line - b.line);
    this.finished = {
      families: this.families,
      problems: this.problems,
      problemCount: this.problemCount,
      errorCount: this.errorCount,
      warningCount: this.warningCount,
      countsByKind: this.countsByKind,
      lines: this.lineNo,
      bytes: this.bytes,
      sampleCount: this.sampleCount,
      samples: this.samples,
    };
    return this.finished;
  }

  /**
   * Which pieces of this chunk (split at line feeds; piece 0 continues the partial line) hold
   * bytes that are not UTF-8, or null when none do (the usual case, checked at native speed).
   * A line feed is never part of a multi-byte sequence, so the pieces of the bytes are the
   * pieces of the decoded text, where each invalid byte shows as U+FFFD. The bytes of a
   * sequence cut by the chunk's end are carried over to the next chunk.
   */
  private invalidUtf8Pieces(chunk: Buffer): ReadonlySet<number> | null {
    const joined = this.utf8Carry.length > 0 ? Buffer.concat([this.utf8Carry, chunk]) : chunk;
    const tail = incompleteTail(joined);
    this.utf8Carry = tail > 0 ? Buffer.from(joined.subarray(joined.length - tail)) : Buffer.alloc(0);
    const body = tail > 0 ? joined.subarray(0, joined.length - tail) : joined;
    if (isUtf8(body)) return null;
    const invalid = new Set<number>();
    for (let start = 0, piece = 0; ; piece++) {
      const nl = body.indexOf(0x0a, start);
      if (!isUtf8(body.subarray(start, nl === -1 ? body.length : nl))) invalid.add(piece);
      if (nl === -1) break;
      start = nl + 1;
    }
    return invalid;
  }

  private consume(text: string, invalidPieces: ReadonlySet<number> | null): void {
    let start = 0;
    let piece = 0;
    for (;; piece++) {
      const nl = text.indexOf('\n', start);
      if (nl === -1) break;
      const chunkPiece = text.slice(start, nl);
      start = nl + 1;
      if (this.skippingLongLine) {
        this.skippingLongLine = false;
        this.partial = '';
        this.partialInvalid = false;
        continue;
      }
      const line = this.partial.length > 0 ? this.partial + chunkPiece : chunkPiece;
      const lineInvalid = this.partialInvalid || (invalidPieces?.has(piece) ?? false);
      this.partial = '';
      this.partialInvalid = false;
      this.lineNo += 1;
      this.safeLine(line, lineInvalid);
    }
    if (this.skippingLongLine) return;
    const rest = text.slice(start);
    if (rest.length === 0) {
      if (text.length > 0) this.endedWithNewline = true;
      return;
    }
    this.endedWithNewline = false;
    this.partial = this.partial.length > 0 ? this.partial + rest : rest;
    this.partialInvalid ||= invalidPieces?.has(piece) ?? false;
    if (this.partial.length > this.maxLineChars) {
      this.lineNo += 1;
      this.problem(this.lineNo, this.partial, `line is longer than ${this.maxLineChars} characters; skipped`, 'error', 'syntax');
      this.partial = '';
      this.partialInvalid = false;
      this.skippingLongLine = true;
    }
  }

  private safeLine(raw: string, invalidUtf8: boolean): void {
    try {
      this.line(raw.endsWith('\r') ? raw.slice(0, -1) : raw, invalidUtf8);
    } catch (error) {
      // A validator bug must not cost the user the scrape's other findings.
      this.problem(this.lineNo, raw, `internal: could not validate this line (${(error as Error).message})`, 'error', 'syntax');
    }
  }

  private line(raw: string, invalidUtf8: boolean): void {
    // Prometheus skips blanks at the start of a line; so does this.
    const line = raw.trimStart();
    if (line === '') return;
    const isComment = line.startsWith('#');
    if (invalidUtf8 && line.includes(REPLACEMENT_CHAR)) {
      const what = isComment ? 'HELP/TYPE line' : /\{[^"}]*\uFFFD/.test(line) ? 'label name' : /\{[^}]*\uFFFD/.test(line) ? 'label value' : 'line';
      // A free comment is skipped by every parser; HELP and TYPE lines and samples are read.
      if (!isComment || /^#[ \t]+(HELP|TYPE)\b/.test(line)) {
        this.problem(this.lineNo, line, `invalid UTF-8 in this ${what}: the text format is UTF-8 (the bytes show as \uFFFD here)`, 'error', 'syntax');
        return;
      }
    }
    if (isComment) {
      this.comment(line);
      return;
    }
    const parsed = this.parseSample(line);
    if (parsed) this.sample(parsed, line);
  }

  // ---- comments: HELP and TYPE ----

  private comment(line: string): void {
    const match = /^#[ \t]+(HELP|TYPE)(?:[ \t]+(\S+))?(?:[ \t]([\s\S]*))?$/.exec(line);
    if (!match) return; // any other comment is allowed and ignored
    const [, keyword, name, restRaw] = match as unknown as [string, 'HELP' | 'TYPE', string | undefined, string | undefined];
    const rest = restRaw ?? '';
    if (name === undefined || !METRIC_NAME.test(name)) {
      this.problem(this.lineNo, line, `${keyword} line without a valid metric name (names match [a-zA-Z_:][a-zA-Z0-9_:]*)`, 'error', 'syntax');
      return;
    }
    if (keyword === 'HELP') {
      const help = this.unescapeHelp(rest, line);
      const family = this.familyFor(name, line);
      if (family.help !== null || family.helpBefore) {
        this.problem(this.lineNo, line, `second HELP line for ${name}; each family has one`, 'error', 'structure');
        return;
      }
      family.help = detach(help ?? rest);
      return;
    }
    const type = rest.trim();
    if (!METRIC_TYPES.has(type)) {
      this.problem(this.lineNo, line, `unknown metric type "${type}" for ${name}; valid: counter, gauge, histogram, summary, untyped`, 'error', 'syntax');
      return;
    }
    const family = this.familyFor(name, line);
    if (family.type !== null) {
      this.problem(this.lineNo, line, `second TYPE line for ${name}; each family has one`, 'error', 'structure');
      return;
    }
    if (family.sawSample) {
      this.problem(this.lineNo, line, `TYPE for ${name} comes after its first sample (line ${family.firstLine}); TYPE must come before the samples`, 'error', 'structure');
      return;
    }
    family.type = type as MetricType;
    this.types.set(family.name, family.type);
  }

  /** The family a line belongs to: the current one, or a new group (continuing an ended family of that name). */
  private familyFor(name: string, line: string): FamilyState {
    if (this.current && this.current.name === name) return this.current;
    const earlier = this.ended.get(name);
    if (earlier !== undefined) {
      // expfmt and Prometheus merge the groups; the format docs ask for one group per family.
      this.problem(this.lineNo, line, `more lines for ${name}, whose group started at line ${earlier.startedAt} and was interrupted by other metrics; keep each family's lines together (the format asks for one group per family)`, 'warning', 'structure');
    }
    this.openFamily(name, line, earlier);
    return this.current!;
  }

  private unescapeHelp(text: string, line: string): string | null {
    if (!text.includes('\\')) return text;
    let out = '';
    for (let i = 0; i < text.length; i++) {
      const ch = text[i]!;
      if (ch !== '\\') {
        out += ch;
        continue;
      }
      const next = text[i + 1];
      if (next === '\\') out += '\\';
      else if (next === 'n') out += '\n';
      else {
        this.problem(this.lineNo, line, `invalid escape "\\${next ?? ''}" in HELP text; only \\\\ and \\n are allowed there`, 'error', 'syntax');
        return null;
      }
      i += 1;
    }
    return out;
  }

  // ---- samples ----

  private parseSample(line: string): ParsedSample | null {
    const fail = (message: string): null => {
      this.problem(this.lineNo, line, message, 'error', 'syntax');
      return null;
    };
    METRIC_NAME_STICKY.lastIndex = 0;
    const nameMatch = METRIC_NAME_STICKY.exec(line);
    if (!nameMatch) {
      const hint = line.startsWith('"')
        ? ' (the body looks like a JSON-encoded string: return the exposition as text/plain, e.g. a FastAPI Response(generate_latest(), media_type=CONTENT_TYPE_LATEST))'
        : line.startsWith('<')
          ? ' (the body looks like HTML: is this the metrics path?)'
          : line.startsWith('{')
            ? ' (the body looks like JSON, not the text exposition format)'
            : '';
      return fail(`not a sample line: expected a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)${hint}`);
    }
    const name = nameMatch[0];
    let i = name.length;
    const afterName = i;
    while (line[i] === ' ' || line[i] === '\t') i++;
    const labels: Array<[string, string]> = [];
    const braces = line[i] === '{';
    if (!braces) i = afterName;
    else {
      i++;
      for (;;) {
        while (line[i] === ' ' || line[i] === '\t') i++;
        if (line[i] === '}') {
          i++;
          break;
        }
        LABEL_NAME_STICKY.lastIndex = i;
        const labelMatch = LABEL_NAME_STICKY.exec(line);
        if (!labelMatch) return fail(`invalid label name at column ${i + 1} (label names match [a-zA-Z_][a-zA-Z0-9_]*)`);
        const labelName = labelMatch[0];
        i += labelName.length;
        while (line[i] === ' ' || line[i] === '\t') i++;
        if (line[i] !== '=') return fail(`expected "=" after label name ${labelName} at column ${i + 1}`);
        i++;
        while (line[i] === ' ' || line[i] === '\t') i++;
        if (line[i] !== '"') return fail(`label ${labelName}: the value must be in double quotes (column ${i + 1})`);
        i++;
        let value = '';
        let closed = false;
        let segmentStart = i;
        while (i < line.length) {
          const ch = line.charCodeAt(i);
          if (ch === 0x22 /* " */) {
            value += line.slice(segmentStart, i);
            closed = true;
            i++;
            break;
          }
          if (ch === 0x5c /* \ */) {
            value += line.slice(segmentStart, i);
            const next = line[i + 1];
            if (next === '\\') value += '\\';
            else if (next === '"') value += '"';
            else if (next === 'n') value += '\n';
            else return fail(`label ${labelName}: invalid escape "\\${next ?? ''}" in the value; only \\\\, \\" and \\n are allowed`);
            i += 2;
            segmentStart = i;
            continue;
          }
          i++;
        }
        if (!closed) return fail(`label ${labelName}: the value's closing quote is missing (a raw " or line break inside must be escaped as \\" or \\n)`);
        if (labelName.startsWith('__')) return fail(`label name ${labelName} is reserved (names starting with "__" are for Prometheus' internal use)`);
        if (labels.some(([n]) => n === labelName)) return fail(`label ${labelName} appears twice in one sample`);
        labels.push([labelName, value]);
        while (line[i] === ' ' || line[i] === '\t') i++;
        if (line[i] === ',') {
          i++;
          continue;
        }
        if (line[i] === '}') {
          i++;
          break;
        }
        return fail(`expected "," or "}" after the value of label ${labelName} at column ${i + 1}`);
      }
    }
    const rest = line.slice(i);
    // After a name the value needs a blank before it; after "}" the parsers accept it glued on (`x{a="b"}-Inf`).
    if (!braces && rest.length > 0 && rest[0] !== ' ' && rest[0] !== '\t') return fail(`expected white space and a value after ${name} at column ${i + 1}`);
    const fields = rest.trim().split(/[ \t]+/);
    if (fields.length === 0 || fields[0] === '') return fail(`sample ${name} has no value`);
    if (fields.length > 2) return fail(`unexpected text after the value and timestamp: "${fields.slice(2).join(' ')}"`);
    const valueText = fields[0]!;
    if (!FLOAT.test(valueText)) return fail(`"${valueText}" is not a number (a float, +Inf, -Inf or NaN)`);
    if (fields[1] !== undefined && !TIMESTAMP.test(fields[1])) return fail(`"${fields[1]}" is not a timestamp (integer milliseconds since the epoch)`);
    return { name, labels, value: parseFloatValue(valueText) };
  }

  private sample(parsed: ParsedSample, line: string): void {
    this.sampleCount += 1;
    const familyName = this.familyOf(parsed.name);
    const family = this.familyFor(familyName, line);
    family.sampleCount += 1;
    family.sawSample = true;

    const sorted = sortedLabels(parsed.labels);
    const seriesKey = keyOfSorted(parsed.name, sorted);
    const seenAt = family.series.get(seriesKey);
    if (seenAt !== undefined) {
      // The parsers accept it; Prometheus then keeps one of the two values and counts the other as a duplicate.
      this.problem(this.lineNo, line, `duplicate series: the same name and labels already appeared at line ${seenAt}; Prometheus keeps only one of the values`, 'warning', 'structure');
      return;
    }
    family.series.set(seriesKey, this.lineNo);

    let childKey = '';
    for (const [labelName, value] of sorted) {
      if (BUCKET_LABELS.has(labelName) && (family.type === 'histogram' || family.type === 'summary')) continue;
      childKey += `${labelName}\u0000${value}\u0001`;
    }
    family.children.add(childKey);
    family.labels.record(parsed.labels);

    switch (family.type) {
      case 'histogram':
        this.histogramSample(family, parsed, childKey, line);
        break;
      case 'summary':
        this.summarySample(family, parsed, childKey, line);
        break;
      case 'counter':
        if (parsed.value < 0) this.problem(this.lineNo, line, `counter ${familyName} is negative; counters only go up (Prometheus reads a drop as a reset)`, 'warning', 'lint');
        if (!parsed.name.endsWith('_total') && family.firstNonTotalSample === null) family.firstNonTotalSample = { line: this.lineNo, text: cut(line), name: detach(parsed.name) };
        break;
      default:
        break;
    }

    if (family.keep) {
      let list = this.samples.get(familyName);
      if (!list) {
        list = [];
        this.samples.set(familyName, list);
      }
      list.push({ name: detach(parsed.name), labels: Object.fromEntries(parsed.labels.map(([k, v]) => [detach(k), detach(v)])), value: parsed.value, line: this.lineNo });
    }
  }

  /** Which family a sample name belongs to: `x_bucket` of a histogram `x` belongs to `x`. */
  private familyOf(name: string): string {
    const current = this.current;
    if (current && belongsTo(current.name, current.type, name)) return current.name;
    if (this.types.has(name)) return name;
    for (const suffix of ['_bucket', '_sum', '_count', '_total']) {
      if (!name.endsWith(suffix)) continue;
      const base = name.slice(0, -suffix.length);
      const type = this.types.get(base);
      if (type && belongsTo(base, type, name)) return base;
    }
    return name;
  }

  private histogramSample(family: FamilyState, parsed: ParsedSample, childKey: string, line: string): void {
    const base = family.name;
    const suffix = parsed.name.slice(base.length);
    if (suffix !== '_bucket' && suffix !== '_sum' && suffix !== '_count') {
      this.problem(this.lineNo, line, `histogram ${base} has a sample named ${parsed.name}; a histogram has only ${base}_bucket, ${base}_sum and ${base}_count (the parsers drop this value)`, 'warning', 'histogram');
      return;
    }
    let child = family.histogram.get(childKey);
    if (!child) {
      child = { firstLine: this.lineNo, firstText: cut(line), labelsText: childLabelsFromText(cut(line)), buckets: 0, lastLe: null, lastBucketValue: -Infinity, infValue: null, count: null, hasSum: false };
      family.histogram.set(childKey, child);
    }
    if (suffix === '_sum') {
      child.hasSum = true;
      return;
    }
    if (suffix === '_count') {
      child.count = parsed.value;
      return;
    }
    const leText = parsed.labels.find(([n]) => n === 'le')?.[1];
    if (leText === undefined) {
      this.problem(this.lineNo, line, `bucket of ${base} without an "le" label (the parsers drop this value)`, 'warning', 'histogram');
      return;
    }
    if (!FLOAT.test(leText)) {
      this.problem(this.lineNo, line, `le="${leText}" is not a number (bucket bounds are floats or "+Inf")`, 'error', 'histogram');
      return;
    }
    const le = parseFloatValue(leText);
    if (child.lastLe !== null && le < child.lastLe) {
      this.problem(this.lineNo, line, `bucket le="${leText}" comes after le="${formatLe(child.lastLe)}"; buckets must be in ascending order of le`, 'warning', 'histogram');
    } else if (parsed.value < child.lastBucketValue) {
      this.problem(this.lineNo, line, `bucket le="${leText}" counts ${formatNumber(parsed.value)}, fewer than the smaller bucket before it (${formatNumber(child.lastBucketValue)}); buckets are cumulative and never decrease`, 'warning', 'histogram');
    }
    child.buckets += 1;
    child.lastLe = child.lastLe === null ? le : Math.max(child.lastLe, le);
    child.lastBucketValue = Math.max(child.lastBucketValue, parsed.value);
    if (le === Infinity) child.infValue = parsed.value;
  }

  private summarySample(family: FamilyState, parsed: ParsedSample, childKey: string, line: string): void {
    const base = family.name;
    const suffix = parsed.name.slice(base.length);
    let child = family.summary.get(childKey);
    if (!child) {
      child = { firstLine: this.lineNo, firstText: cut(line), labelsText: childLabelsFromText(cut(line)), count: false, sum: false };
      family.summary.set(childKey, child);
    }
    if (suffix === '_sum') child.sum = true;
    else if (suffix === '_count') child.count = true;
    else if (suffix === '') {
      const quantile = parsed.labels.find(([n]) => n === 'quantile')?.[1];
      if (quantile === undefined) this.problem(this.lineNo, line, `summary ${base}: a sample without suffix needs a "quantile" label (the parsers drop this value)`, 'warning', 'structure');
      else if (!FLOAT.test(quantile)) this.problem(this.lineNo, line, `summary ${base}: quantile="${quantile}" is not a number`, 'error', 'structure');
      else if (!(parseFloatValue(quantile) >= 0 && parseFloatValue(quantile) <= 1)) {
        this.problem(this.lineNo, line, `summary ${base}: quantile="${quantile}" is not a number from 0 to 1`, 'warning', 'lint');
      }
    } else {
      this.problem(this.lineNo, line, `summary ${base} has a sample named ${parsed.name}; a summary has only ${base}, ${base}_sum and ${base}_count`, 'warning', 'structure');
    }
  }

  // ---- family groups ----

  private openFamily(rawName: string, line: string, earlier: EndedFamily | undefined): void {
    this.closeFamily();
    const name = detach(rawName);
    this.current = {
      name,
      // A continued family keeps its type, so its samples are still judged by it.
      type: earlier?.type ?? null,
      help: null,
      helpBefore: earlier?.hasHelp ?? false,
      firstLine: this.lineNo,
      firstText: cut(line),
      sawSample: earlier?.sawSample ?? false,
      reopened: earlier !== undefined,
      firstNonTotalSample: null,
      series: new Map(),
      children: new Set(),
      labels: new LabelTracker(name, this.maxLabelValues, detach),
      histogram: new Map(),
      summary: new Map(),
      sampleCount: 0,
      keep: this.keepSamples(name),
    };
  }

  private closeFamily(): void {
    const family = this.current;
    if (!family) return;
    this.current = null;
    const earlier = this.ended.get(family.name);
    this.ended.set(family.name, {
      startedAt: earlier?.startedAt ?? family.firstLine,
      type: family.type,
      hasHelp: family.help !== null || family.helpBefore,
      sawSample: family.sawSample,
    });
    const problems = lintFamily(
      {
        name: family.name,
        type: family.type,
        help: family.help,
        firstLine: family.firstLine,
        firstText: family.firstText,
        sawSample: family.sawSample,
        firstNonTotalSample: family.firstNonTotalSample,
        histogram: [...family.histogram.values()],
        summary: [...family.summary.values()],
      },
      family.reopened,
    );
    for (const p of problems) this.problem(p.line, p.text, p.message, 'warning', p.kind);
    if (family.reopened) {
      // The earlier group's summary stands; merge the counts so nothing is lost.
      const summary = this.families.find((f) => f.name === family.name);
      if (summary) {
        summary.sampleCount += family.sampleCount;
        summary.seriesCount += family.children.size;
        if (summary.help === null && family.help !== null) summary.help = family.help;
        if (summary.type === null && family.type !== null) summary.type = family.type;
        return;
      }
    }
    this.families.push({
      name: family.name,
      type: family.type,
      help: family.help,
      firstLine: family.firstLine,
      seriesCount: family.children.size,
      sampleCount: family.sampleCount,
      labels: family.labels.summaries(),
    });
  }

  private problem(line: number, text: string, message: string, severity: ProblemSeverity, kind: ProblemKind): void {
    this.problemCount += 1;
    if (severity === 'error') {
      this.errorCount += 1;
      this.countsByKind[kind].errors += 1;
    } else {
      this.warningCount += 1;
      this.countsByKind[kind].warnings += 1;
    }
    if (this.problems.length < this.maxProblems) this.problems.push({ line, text: detach(cut(text)), message: detach(message), severity, kind });
  }
}

/** Validate a whole body held in memory (tests, small inputs). */
export function validateExposition(body: string | Buffer, options?: ValidatorOptions): ValidationResult {
  const validator = new ExpositionValidator(options);
  validator.push(body);
  return validator.end();
}

/** How many bytes at the end of `buf` start a UTF-8 sequence that the buffer does not complete (0..3). */
function incompleteTail(buf: Buffer): number {
  for (let back = 1; back <= Math.min(3, buf.length); back++) {
    const byte = buf[buf.length - back]!;
    if ((byte & 0xc0) === 0x80) continue; // a continuation byte: look further back
    const need = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return need > back ? back : 0;
  }
  return 0;
}

function belongsTo(base: string, type: MetricType | null, name: string): boolean {
  if (name === base) return true;
  if (!name.startsWith(base)) return false;
  const suffix = name.slice(base.length);
  switch (type) {
    case 'histogram':
      return suffix === '_bucket' || suffix === '_sum' || suffix === '_count';
    case 'summary':
      return suffix === '_sum' || suffix === '_count';
    case 'counter':
      return suffix === '_total' && !base.endsWith('_total');
    default:
      return false;
  }
}

function sortedLabels(labels: Array<[string, string]>): Array<[string, string]> {
  let inOrder = true;
  for (let i = 1; i < labels.length && inOrder; i++) inOrder = labels[i - 1]![0] < labels[i]![0];
  // Most exporters write labels in one fixed order, often sorted already: no copy then.
  return inOrder ? labels : [...labels].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

function keyOfSorted(name: string, sorted: Array<[string, string]>): string {
  let key = name;
  for (const [labelName, value] of sorted) key += `\u0000${labelName}\u0001${value}`;
  return key;
}

/** name + labels sorted by name: the identity of one series. */
export function seriesKeyOf(name: string, labels: Array<[string, string]>): string {
  return keyOfSorted(name, sortedLabels(labels));
}

function parseFloatValue(text: string): number {
  const lower = text.toLowerCase();
  if (lower === '+inf' || lower === 'inf' || lower === '+infinity' || lower === 'infinity') return Infinity;
  if (lower === '-inf' || lower === '-infinity') return -Infinity;
  if (lower === 'nan' || lower === '+nan' || lower === '-nan') return NaN;
  return Number(text);
}

function formatLe(le: number): string {
  return le === Infinity ? '+Inf' : String(le);
}

/**
 * A copy of `text` that does not share memory with the chunk it was cut from. V8 keeps a
 * substring as a view of its parent string, so one family name kept for the end of the body
 * would keep a whole 64 KiB chunk alive: everything kept past the current line is copied.
 */
function detach(text: string): string {
  return text.length === 0 ? '' : Buffer.from(text, 'utf8').toString('utf8');
}

function cut(text: string): string {
  return text.length > LINE_TEXT_MAX ? `${text.slice(0, LINE_TEXT_MAX - 1)}…` : text;
}

/** `{method="POST"}` from the first line of a histogram or summary child (bucket labels dropped), for messages. */
function childLabelsFromText(text: string): string {
  const open = text.indexOf('{');
  const close = text.lastIndexOf('}');
  if (open === -1 || close < open) return '';
  const inner = text
    .slice(open + 1, close)
    .split(/,(?=\s*[a-zA-Z_][a-zA-Z0-9_]*\s*=)/)
    .filter((pair) => !/^\s*(le|quantile)\s*=/.test(pair))
    .join(',');
  return inner.trim() ? `{${inner}}` : '';
}
