/**
 * The cardinality heuristics: how many distinct values each label of a family takes (counted
 * up to a cap, so a runaway label costs bounded memory), and which values look like they come
 * from an unbounded set. Fed one sample at a time by the validator; `metrics.cardinality` judges
 * the summaries.
 */
import type { LabelSummary, SuspiciousValue } from '../parse.js';

const SUSPICIOUS_EXAMPLES = 3;
/** Labels whose values are numbers by design. */
const BUCKET_LABELS: ReadonlySet<string> = new Set(['le', 'quantile']);

interface LabelState {
  values: Set<string>;
  capped: boolean;
  suspicious: SuspiciousValue[];
}

export class LabelTracker {
  private readonly labels = new Map<string, LabelState>();

  constructor(
    private readonly familyName: string,
    private readonly maxValues: number,
    /** Copies a string kept past the current line (see `detach` in parse.ts). */
    private readonly keep: (text: string) => string,
  ) {}

  record(labels: ReadonlyArray<[string, string]>): void {
    for (const [labelName, value] of labels) {
      if (BUCKET_LABELS.has(labelName)) continue;
      let state = this.labels.get(labelName);
      if (!state) {
        state = { values: new Set(), capped: false, suspicious: [] };
        this.labels.set(this.keep(labelName), state);
      }
      if (state.capped || state.values.has(value)) continue;
      if (state.values.size >= this.maxValues) {
        state.capped = true;
        continue;
      }
      state.values.add(this.keep(value));
      // An _info metric carries descriptive values by design (versions, paths, build ids).
      if (state.suspicious.length < SUSPICIOUS_EXAMPLES && !this.familyName.endsWith('_info')) {
        const reason = unboundedValueReason(value);
        if (reason) state.suspicious.push({ value: this.keep(value.length > 80 ? `${value.slice(0, 79)}…` : value), reason });
      }
    }
  }

  summaries(): LabelSummary[] {
    return [...this.labels].map(([name, state]) => ({ name, distinctValues: state.values.size, capped: state.capped, suspicious: state.suspicious }));
  }
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
  if (words >= 4 || value.length > 100 || (words >= 2 && value.length > 40) || value.includes('\n')) return 'free text';
  return null;
}
