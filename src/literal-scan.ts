/**
 * A prefilter for many regular expressions over long logs: each expression's longest required
 * literal goes into one Aho-Corasick automaton, so a line is scanned once, character by
 * character, and only the expressions whose literal occurs in it are run. Testing a hundred
 * expressions on every line of a 50 MB log would take seconds; nearly all of its lines contain
 * none of the literals. Matching is ASCII-case-insensitive (a superset of what the expressions
 * accept), so the prefilter may let a line through but never keeps a match out.
 */

/** The shortest literal worth filtering on; an expression without one is always run. */
const MIN_LITERAL = 3;

/**
 * The literal runs every match of `source` must contain, one per top-level alternative; null
 * when some alternative has no run of MIN_LITERAL characters (then the expression is always run).
 */
export function requiredLiterals(source: string): string[] | null {
  const literals: string[] = [];
  for (const alternative of splitAlternatives(source)) {
    const best = longestRun(alternative);
    if (best.length < MIN_LITERAL) return null;
    literals.push(best);
  }
  return literals;
}

function splitAlternatives(source: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  structuralChars(source, 0, (c, i) => {
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === '|' && depth === 0) {
      parts.push(source.slice(start, i));
      start = i + 1;
    }
  });
  parts.push(source.slice(start));
  return parts;
}

/**
 * Calls `visit` for each character of `source` from `from` on that is neither escaped nor inside a
 * character class (the `[` that opens a class is visited); stops when `visit` returns true.
 */
function structuralChars(source: string, from: number, visit: (c: string, i: number) => boolean | void): void {
  let inClass = false;
  for (let i = from; i < source.length; i++) {
    const c = source[i]!;
    if (c === '\\') {
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') inClass = true;
    if (visit(c, i)) return;
  }
}

/** Index just past the group or class that starts at `i`. */
function skipAtom(source: string, i: number): number {
  const open = source[i];
  if (open === '[') {
    for (let j = i + 1; j < source.length; j++) {
      if (source[j] === '\\') j++;
      else if (source[j] === ']') return j + 1;
    }
    return source.length;
  }
  let depth = 0;
  let end = source.length;
  structuralChars(source, i, (c, j) => {
    if (c === '(') depth++;
    else if (c === ')' && --depth === 0) {
      end = j + 1;
      return true;
    }
  });
  return end;
}

/** The longest run of literal characters one alternative requires. */
function longestRun(alternative: string): string {
  const runs: string[] = [];
  let run = '';
  const endRun = () => {
    if (run) runs.push(run);
    run = '';
  };
  let i = 0;
  while (i < alternative.length) {
    const c = alternative[i]!;
    let literal: string | null = null;
    let next = i + 1;
    if (c === '\\') {
      const e = alternative[i + 1] ?? '';
      next = i + 2;
      // Classes, boundaries, back references and code escapes are not one fixed character.
      if (/[dDwWsSbBnrtfvxucpPk0-9]/.test(e)) literal = null;
      else literal = e;
    } else if (c === '[' || c === '(') {
      next = skipAtom(alternative, i);
    } else if ('.^$'.includes(c)) {
      literal = null;
    } else if ('*+?{'.includes(c)) {
      // A quantifier at the start of nothing: treat as a break.
      literal = null;
    } else {
      literal = c;
    }
    // What follows the atom: an optional quantifier drops it, a repeating one ends the run after it.
    const q = alternative[next];
    const optional = q === '?' || q === '*' || (q === '{' && /^\{0\s*[,}]/.test(alternative.slice(next)));
    const repeats = q === '+' || (q === '{' && !optional);
    if (literal === null || optional) {
      endRun();
    } else {
      run += literal;
      if (repeats) endRun();
    }
    if (q === '?' || q === '*' || q === '+') {
      next += 1;
      if (alternative[next] === '?') next += 1;
    } else if (q === '{') {
      const close = alternative.indexOf('}', next);
      next = close < 0 ? alternative.length : close + 1;
      if (alternative[next] === '?') next += 1;
    }
    i = next;
  }
  endRun();
  return runs.reduce((best, r) => (r.length > best.length ? r : best), '');
}

const ALPHABET = 128;
/** Literals are cut to this many characters: enough to be rare in a log, and a small automaton. */
const MAX_LITERAL = 16;
const fold = (code: number) => (code >= 65 && code <= 90 ? code + 32 : code);

/**
 * Aho-Corasick over ASCII-folded literals. `scan(line)` reports which keys have a literal in
 * the line; non-ASCII characters take a slower map-based path.
 */
export class LiteralScanner {
  /** The dense ASCII transition table (fail links folded in): ascii[state * 128 + code]. */
  private readonly ascii: Int32Array;
  private readonly wide: Map<number, number>[] = [];
  private readonly fail: number[] = [];
  /** Per state, the keys whose literal ends here (fail links folded in). */
  private readonly outputs: number[][] = [];
  /** hasOutput[state] = 1 when some key ends there: the scan's fast test. */
  private readonly hasOutput: Uint8Array;

  constructor(literals: readonly { literal: string; key: number }[]) {
    const children: Map<number, number>[] = [];
    const newState = () => {
      children.push(new Map());
      this.wide.push(new Map());
      this.outputs.push([]);
      this.fail.push(0);
      return children.length - 1;
    };
    newState();
    for (const { literal, key } of literals) {
      let s = 0;
      for (const ch of [...literal.toLowerCase()].slice(0, MAX_LITERAL)) {
        const code = fold(ch.codePointAt(0)!);
        let t = children[s]!.get(code);
        if (t === undefined) {
          t = newState();
          children[s]!.set(code, t);
          if (code >= ALPHABET) this.wide[s]!.set(code, t);
        }
        s = t;
      }
      if (!this.outputs[s]!.includes(key)) this.outputs[s]!.push(key);
    }
    // Breadth first, so a state's fail target (shallower) has its row before the state copies it.
    const states = children.length;
    this.ascii = new Int32Array(states * ALPHABET);
    const queue = [0];
    for (let head = 0; head < queue.length; head++) {
      const s = queue[head]!;
      if (s !== 0) {
        const f = this.fail[s]!;
        this.ascii.copyWithin(s * ALPHABET, f * ALPHABET, (f + 1) * ALPHABET);
        for (const key of this.outputs[f]!) if (!this.outputs[s]!.includes(key)) this.outputs[s]!.push(key);
      }
      for (const [code, t] of children[s]!) {
        if (s !== 0) this.fail[t] = code < ALPHABET ? this.ascii[this.fail[s]! * ALPHABET + code]! : this.wideStep(this.fail[s]!, code);
        if (code < ALPHABET) this.ascii[s * ALPHABET + code] = t;
        queue.push(t);
      }
    }
    this.hasOutput = new Uint8Array(states);
    this.outputs.forEach((keys, state) => {
      this.hasOutput[state] = keys.length ? 1 : 0;
    });
  }

  private wideStep(state: number, code: number): number {
    let s = state;
    for (;;) {
      const t = this.wide[s]!.get(code);
      if (t !== undefined) return t;
      if (s === 0) return 0;
      s = this.fail[s]!;
    }
  }

  /** Calls `hit(key)` for each key with a literal in `text` (a key may be reported more than once). */
  scan(text: string, hit: (key: number) => void): void {
    const ascii = this.ascii;
    const hasOutput = this.hasOutput;
    let s = 0;
    for (let i = 0; i < text.length; i++) {
      let code = text.charCodeAt(i);
      if (code < ALPHABET) {
        if (code >= 65 && code <= 90) code += 32;
        s = ascii[s * ALPHABET + code]!;
      } else {
        s = this.wideStep(s, text.codePointAt(i)!);
        if (code >= 0xd800 && code <= 0xdbff) i++;
      }
      if (hasOutput[s] === 1) for (const key of this.outputs[s]!) hit(key);
    }
  }
}
