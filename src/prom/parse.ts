/**
 * A streaming, strict validator for the Prometheus text exposition format (version 0.0.4).
 *
 * The body is fed in chunks (`push`) and read line by line; only the current partial line and
 * the state of the metric family being read are held, plus small summaries of the families
 * already read. So a 50 MB scrape costs memory in proportion to its longest line and its
 * largest family, never to the body.
 *
 * Strict where Prometheus itself is lenient, because a guard server's exporter is usually
 * hand-written and the lenient spots are where its dashboards and alerts silently break:
 * every family needs a TYPE before its first sample (and a HELP), a family's lines must be one
 * uninterrupted group, series are unique, label values are escaped (`\\`, `\"`, `\n` only),
 * histograms have ascending `le` buckets, cumulative counts, a `+Inf` bucket equal to `_count`
 * and a `_sum`; counters end in `_total`; units are base units (`_seconds`, `_bytes`).
 * Every problem names its line number and the line. The validator never throws.
 */
import { StringDecoder } from 'node:string_decoder';

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
const METRIC_TYPES: ReadonlySet<string> = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

/** `error`: the exposition is wrong (fails `metrics.format`/`metrics.naming`); `warning`: against convention. */
export type ProblemSeverity = 'error' | 'warning';
/** syntax/structure/histogram: the format itself; naming/units: the metric naming conventions. */
export type ProblemKind = 'syntax' | 'structure' | 'histogram' | 'naming' | 'units';

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
  /** `null` when the family had no TYPE line. */
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
const SUSPICIOUS_EXAMPLES = 3;
/** Labels whose values are numbers by design. */
const BUCKET_LABELS: ReadonlySet<string> = new Set(['le', 'quantile']);

/**
 * Non-base units and what to use instead. Prometheus metric names use base units so that
 * `rate()` and dashboards combine without conversion factors.
 */
export const NON_BASE_UNITS: ReadonlyArray<{ suffix: string; base: string }> = [
  { suffix: '_milliseconds', base: '_seconds' },
  { suffix: '_millis', base: '_seconds' },
  { suffix: '_ms', base: '_seconds' },
  { suffix: '_microseconds', base: '_seconds' },
  { suffix: '_us', base: '_seconds' },
  { suffix: '_nanoseconds', base: '_seconds' },
  { suffix: '_ns', base: '_seconds' },
  { suffix: '_minutes', base: '_seconds' },
  { suffix: '_hours', base: '_seconds' },
  { suffix: '_days', base: '_seconds' },
  { suffix: '_kilobytes', base: '_bytes' },
  { suffix: '_megabytes', base: '_bytes' },
  { suffix: '_gigabytes', base: '_bytes' },
  { suffix: '_kb', base: '_bytes' },
  { suffix: '_mb', base: '_bytes' },
  { suffix: '_gb', base: '_bytes' },
  { suffix: '_kib', base: '_bytes' },
  { suffix: '_mib', base: '_bytes' },
  { suffix: '_gib', base: '_bytes' },
];

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const METRIC_NAME_STICKY = /[a-zA-Z_:][a-zA-Z0-9_:]*/y;
const LABEL_NAME_STICKY = /[a-zA-Z_][a-zA-Z0-9_]*/y;
const FLOAT = /^[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|inf|infinity|nan)$/i;
const TIMESTAMP = /^-?\d+$/;

interface HistogramChild {
  firstLine: number;
  firstText: string;
  buckets: number;
  lastLe: number | null;
  lastBucketValue: number;
  infValue: number | null;
  count: number | null;
  hasSum: boolean;
}

interface SummaryChild {
  firstLine: number;
  firstText: string;
  count: boolean;
  sum: boolean;
}

interface LabelState {
  values: Set<string>;
  capped: boolean;
  suspicious: SuspiciousValue[];
}

interface FamilyState {
  name: string;
  type: MetricType | null;
  help: string | null;
  firstLine: number;
  firstText: string;
  sawSample: boolean;
  /** Reported the missing TYPE / the non-`_total` counter name already. */
  reportedNoType: boolean;
  reportedCounterName: boolean;
  /** Series key -> line where it first appeared. */
  series: Map<string, number>;
  children: Set<string>;
  labels: Map<string, LabelState>;
  histogram: Map<string, HistogramChild>;
  summary: Map<string, SummaryChild>;
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
  private skippingLongLine = false;
  private lineNo = 0;
  private bytes = 0;
  private endedWithNewline = true;
  private current: FamilyState | null = null;
  /** Families whose group has ended: name -> the line their group started. */
  private readonly ended = new Map<string, number>();
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
    this.bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
    const text = typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    this.consume(text);
  }

  /** The body is complete: close the last family and hand back the result. */
  end(): ValidationResult {
    if (this.finished) return this.finished;
    this.consume(this.decoder.end());
    if (this.partial.length > 0 || this.skippingLongLine) {
      const text = this.partial;
      this.partial = '';
      if (!this.skippingLongLine) {
        this.lineNo += 1;
        this.safeLine(text);
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

  private consume(text: string): void {
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl === -1) break;
      const piece = text.slice(start, nl);
      start = nl + 1;
      if (this.skippingLongLine) {
        this.skippingLongLine = false;
        this.partial = '';
        continue;
      }
      const line = this.partial.length > 0 ? this.partial + piece : piece;
      this.partial = '';
      this.lineNo += 1;
      this.safeLine(line);
    }
    if (this.skippingLongLine) return;
    const rest = text.slice(start);
    if (rest.length === 0) {
      if (text.length > 0) this.endedWithNewline = true;
      return;
    }
    this.endedWithNewline = false;
    this.partial = this.partial.length > 0 ? this.partial + rest : rest;
    if (this.partial.length > this.maxLineChars) {
      this.lineNo += 1;
      this.problem(this.lineNo, this.partial, `line is longer than ${this.maxLineChars} characters; skipped`, 'error', 'syntax');
      this.partial = '';
      this.skippingLongLine = true;
    }
  }

  private safeLine(raw: string): void {
    try {
      this.line(raw.endsWith('\r') ? raw.slice(0, -1) : raw);
    } catch (error) {
      // A validator bug must not cost the user the scrape's other findings.
      this.problem(this.lineNo, raw, `internal: could not validate this line (${(error as Error).message})`, 'error', 'syntax');
    }
  }

  private line(raw: string): void {
    // Prometheus skips blanks at the start of a line; so does this.
    const line = raw.trimStart();
    if (line === '') return;
    if (line.startsWith('#')) {
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
      const family = this.familyForMeta(name, line, 'HELP');
      if (!family) return;
      if (family.help !== null) {
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
    const family = this.familyForMeta(name, line, 'TYPE');
    if (!family) return;
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
    this.checkCounterName(family, this.lineNo, line);
  }

  /** The family a HELP/TYPE line belongs to, opening a new group when the name changes. */
  private familyForMeta(name: string, line: string, keyword: 'HELP' | 'TYPE'): FamilyState | null {
    if (this.current && this.current.name === name) return this.current;
    const startedAt = this.ended.get(name);
    if (startedAt !== undefined) {
      this.problem(this.lineNo, line, `${keyword} for ${name} again; its group started at line ${startedAt} and was interrupted by other metrics. Keep each family's lines together`, 'error', 'structure');
      return null;
    }
    this.openFamily(name, line);
    return this.current;
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
    if (line[i] !== '{') i = afterName;
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
    if (rest.length > 0 && rest[0] !== ' ' && rest[0] !== '\t') return fail(`expected white space and a value after ${name} at column ${i + 1}`);
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
    let family = this.current;
    if (!family || family.name !== familyName) {
      const startedAt = this.ended.get(familyName);
      if (startedAt !== undefined) {
        this.problem(this.lineNo, line, `sample of ${familyName}, whose group started at line ${startedAt} and was interrupted by other metrics; keep each family's lines together`, 'error', 'structure');
      }
      this.openFamily(familyName, line);
      family = this.current!;
      const knownType = this.types.get(familyName);
      // A re-opened family keeps its type, so its samples are still judged by it.
      if (knownType) family.type = knownType;
    }
    family.sampleCount += 1;
    if (!family.sawSample) {
      family.sawSample = true;
      if (family.type === null && !family.reportedNoType && !this.ended.has(familyName)) {
        family.reportedNoType = true;
        this.problem(this.lineNo, line, `no TYPE line for ${familyName} before its first sample; add "# TYPE ${familyName} <counter|gauge|histogram|summary>"`, 'error', 'structure');
      }
    }

    const seriesKey = seriesKeyOf(parsed.name, parsed.labels);
    const seenAt = family.series.get(seriesKey);
    if (seenAt !== undefined) {
      this.problem(this.lineNo, line, `duplicate series: the same name and labels already appeared at line ${seenAt}`, 'error', 'structure');
      return;
    }
    family.series.set(seriesKey, this.lineNo);

    let childKey = '';
    for (const [labelName, value] of sortedLabels(parsed.labels)) {
      if (BUCKET_LABELS.has(labelName) && family.type !== 'untyped' && family.type !== 'gauge' && family.type !== 'counter') continue;
      childKey += `${labelName}\u0000${value}\u0001`;
    }
    family.children.add(childKey);
    this.recordLabels(family, parsed.labels);

    switch (family.type) {
      case 'histogram':
        this.histogramSample(family, parsed, childKey, line);
        break;
      case 'summary':
        this.summarySample(family, parsed, childKey, line);
        break;
      case 'counter':
        if (parsed.value < 0) this.problem(this.lineNo, line, `counter ${familyName} is negative; counters only go up`, 'error', 'structure');
        this.checkCounterName(family, this.lineNo, line, parsed.name);
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
      this.problem(this.lineNo, line, `histogram ${base} has a sample named ${parsed.name}; a histogram has only ${base}_bucket, ${base}_sum and ${base}_count`, 'error', 'histogram');
      return;
    }
    let child = family.histogram.get(childKey);
    if (!child) {
      child = { firstLine: this.lineNo, firstText: cut(line), buckets: 0, lastLe: null, lastBucketValue: -Infinity, infValue: null, count: null, hasSum: false };
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
      this.problem(this.lineNo, line, `bucket of ${base} without an "le" label`, 'error', 'histogram');
      return;
    }
    if (!FLOAT.test(leText)) {
      this.problem(this.lineNo, line, `le="${leText}" is not a number (bucket bounds are floats or "+Inf")`, 'error', 'histogram');
      return;
    }
    const le = parseFloatValue(leText);
    if (child.lastLe !== null && le < child.lastLe) {
      this.problem(this.lineNo, line, `bucket le="${leText}" comes after le="${formatLe(child.lastLe)}"; buckets must be in ascending order of le`, 'error', 'histogram');
    } else if (parsed.value < child.lastBucketValue) {
      this.problem(this.lineNo, line, `bucket le="${leText}" counts ${formatNumber(parsed.value)}, fewer than the smaller bucket before it (${formatNumber(child.lastBucketValue)}); buckets are cumulative and never decrease`, 'error', 'histogram');
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
      child = { firstLine: this.lineNo, firstText: cut(line), count: false, sum: false };
      family.summary.set(childKey, child);
    }
    if (suffix === '_sum') child.sum = true;
    else if (suffix === '_count') child.count = true;
    else if (suffix === '') {
      const quantile = parsed.labels.find(([n]) => n === 'quantile')?.[1];
      if (quantile === undefined) this.problem(this.lineNo, line, `summary ${base}: a sample without suffix needs a "quantile" label`, 'error', 'structure');
      else if (!FLOAT.test(quantile) || !(parseFloatValue(quantile) >= 0 && parseFloatValue(quantile) <= 1)) {
        this.problem(this.lineNo, line, `summary ${base}: quantile="${quantile}" is not a number from 0 to 1`, 'error', 'structure');
      }
    } else {
      this.problem(this.lineNo, line, `summary ${base} has a sample named ${parsed.name}; a summary has only ${base}, ${base}_sum and ${base}_count`, 'error', 'structure');
    }
  }

  private checkCounterName(family: FamilyState, lineNo: number, line: string, sampleName?: string): void {
    if (family.type !== 'counter' || family.reportedCounterName) return;
    const name = sampleName ?? family.name;
    // `# TYPE x counter` with samples `x_total` (the OpenMetrics style) is fine: wait for the sample.
    if (sampleName === undefined && !family.name.endsWith('_total')) return;
    if (name.endsWith('_total')) return;
    family.reportedCounterName = true;
    this.problem(lineNo, line, `counter ${name} does not end in _total; name it ${name}_total (rate() queries, recording rules and OpenMetrics expect the suffix)`, 'error', 'naming');
  }

  private recordLabels(family: FamilyState, labels: Array<[string, string]>): void {
    for (const [labelName, value] of labels) {
      if (BUCKET_LABELS.has(labelName)) continue;
      let state = family.labels.get(labelName);
      if (!state) {
        state = { values: new Set(), capped: false, suspicious: [] };
        family.labels.set(labelName, state);
      }
      if (state.capped || state.values.has(value)) continue;
      if (state.values.size >= this.maxLabelValues) {
        state.capped = true;
        continue;
      }
      state.values.add(value);
      if (state.suspicious.length < SUSPICIOUS_EXAMPLES && !family.name.endsWith('_info')) {
        const reason = unboundedValueReason(value);
        if (reason) state.suspicious.push({ value: detach(value.length > 80 ? `${value.slice(0, 79)}…` : value), reason });
      }
    }
  }

  // ---- family groups ----

  private openFamily(rawName: string, line: string): void {
    this.closeFamily();
    const name = detach(rawName);
    this.current = {
      name,
      type: null,
      help: null,
      firstLine: this.lineNo,
      firstText: cut(line),
      sawSample: false,
      reportedNoType: false,
      reportedCounterName: false,
      series: new Map(),
      children: new Set(),
      labels: new Map(),
      histogram: new Map(),
      summary: new Map(),
      sampleCount: 0,
      keep: this.keepSamples(name),
    };
    const unit = NON_BASE_UNITS.find((u) => stripSuffixes(name).toLowerCase().endsWith(u.suffix));
    if (unit) {
      const better = stripSuffixes(name).slice(0, -unit.suffix.length) + unit.base;
      this.problem(this.lineNo, line, `${name} is not in a base unit (${unit.suffix.slice(1)}); use ${unit.base.slice(1)}, e.g. ${better}, and convert the values`, 'warning', 'units');
    }
  }

  private closeFamily(): void {
    const family = this.current;
    if (!family) return;
    this.current = null;
    const reopened = this.ended.has(family.name);
    if (!reopened) this.ended.set(family.name, family.firstLine);
    if (family.type === null && family.sawSample && !family.reportedNoType && !reopened) {
      this.problem(family.firstLine, family.firstText, `no TYPE line for ${family.name}`, 'error', 'structure');
    }
    if (family.type !== null && !family.reportedCounterName && family.type === 'counter' && !family.sawSample && !family.name.endsWith('_total')) {
      this.problem(family.firstLine, family.firstText, `counter ${family.name} does not end in _total; name it ${family.name}_total`, 'error', 'naming');
    }
    if (family.help === null && !reopened) {
      this.problem(family.firstLine, family.firstText, `no HELP line for ${family.name}; add "# HELP ${family.name} <what it counts>" so dashboards can explain it`, 'warning', 'structure');
    }
    for (const child of family.histogram.values()) {
      const where = `histogram ${family.name}${childLabelsFromText(child.firstText)}`;
      if (child.buckets === 0) this.problem(child.firstLine, child.firstText, `${where} has no _bucket samples`, 'error', 'histogram');
      else if (child.infValue === null) this.problem(child.firstLine, child.firstText, `${where} has no le="+Inf" bucket`, 'error', 'histogram');
      if (child.count === null) this.problem(child.firstLine, child.firstText, `${where} has no ${family.name}_count`, 'error', 'histogram');
      else if (child.infValue !== null && child.infValue !== child.count) {
        this.problem(child.firstLine, child.firstText, `${where}: the le="+Inf" bucket (${formatNumber(child.infValue)}) differs from ${family.name}_count (${formatNumber(child.count)}); they must be equal`, 'error', 'histogram');
      }
      if (!child.hasSum) this.problem(child.firstLine, child.firstText, `${where} has no ${family.name}_sum`, 'error', 'histogram');
    }
    for (const child of family.summary.values()) {
      const where = `summary ${family.name}${childLabelsFromText(child.firstText)}`;
      if (!child.count) this.problem(child.firstLine, child.firstText, `${where} has no ${family.name}_count`, 'error', 'structure');
      if (!child.sum) this.problem(child.firstLine, child.firstText, `${where} has no ${family.name}_sum`, 'error', 'structure');
    }
    if (reopened) {
      // The earlier group's summary stands; merge the counts so nothing is lost.
      const earlier = this.families.find((f) => f.name === family.name);
      if (earlier) {
        earlier.sampleCount += family.sampleCount;
        earlier.seriesCount += family.children.size;
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
      labels: [...family.labels].map(([name, state]) => ({
        name: detach(name),
        distinctValues: state.values.size,
        capped: state.capped,
        suspicious: state.suspicious,
      })),
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
export function validateExposition(body: string, options?: ValidatorOptions): ValidationResult {
  const validator = new ExpositionValidator(options);
  validator.push(body);
  return validator.end();
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

function stripSuffixes(name: string): string {
  return name.replace(/_(total|bucket|sum|count|created)$/, '');
}

function sortedLabels(labels: Array<[string, string]>): Array<[string, string]> {
  return labels.length < 2 ? labels : [...labels].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/** name + labels sorted by name: the identity of one series. */
export function seriesKeyOf(name: string, labels: Array<[string, string]>): string {
  let key = name;
  for (const [labelName, value] of sortedLabels(labels)) key += `\u0000${labelName}\u0001${value}`;
  return key;
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

function formatNumber(n: number): string {
  return Number.isInteger(n) ? String(n) : String(Number(n.toPrecision(6)));
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

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;
const LONG_HEX = /(?:^|[^0-9a-z])[0-9a-f]{16,}(?:$|[^0-9a-z])/i;
const PREFIXED_ID = /^[A-Za-z]{2,12}[-_](?=[A-Za-z0-9]*\d)(?=[A-Za-z0-9]*[A-Za-z])[A-Za-z0-9]{12,}$/;
const LONG_NUMBER = /^\d{7,}$/;
const URL_SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;
const PATH_ID_SEGMENT = /\/(?:\d{2,}|[0-9a-f]{8,}|[0-9a-f]{8}-[0-9a-f-]{27})(?:\/|$|\?)/i;

/**
 * Why a label value looks like it comes from an unbounded set (each new value is a new
 * series for ever): full URLs, paths with ids in them, UUIDs, request ids, long numbers, and
 * free text. null when it looks like a bounded value (a method, a status, a model path).
 */
export function unboundedValueReason(value: string): string | null {
  if (URL_SCHEME.test(value)) return 'url';
  if (value.startsWith('/') && PATH_ID_SEGMENT.test(value)) return 'url with an id in its path';
  if (UUID.test(value)) return 'id (UUID)';
  if (LONG_NUMBER.test(value)) return 'id (long number)';
  if (PREFIXED_ID.test(value)) return 'id (request or object id)';
  if (LONG_HEX.test(value)) return 'id (hex)';
  const words = value.trim().split(/\s+/).filter(Boolean).length;
  if ((words >= 4) || value.length > 100 || (words >= 2 && value.length > 40) || value.includes('\n')) return 'free text';
  return null;
}
