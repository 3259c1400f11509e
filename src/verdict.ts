/**
 * The one reader of model output. Qwen3Guard-Gen answers in official lines
 * (`Safety: Unsafe` / `Categories: Violent` / `Refusal: No`); the web image's app answers in
 * Chinese free text (安全 / 有争议 / 不安全). Whatever cannot be read is `unknown`, and
 * `unknown` never counts as safe. This function never throws, whatever it is handed.
 */
import type { Safety, SafetyVerdict, Verdict } from './types.js';

/** Category names the model emits (FACTS.md), with the Chinese names the web image's text uses. */
export const CATEGORY_NAMES = [
  { name: 'Violent', zh: ['暴力'] },
  { name: 'Non-violent Illegal Acts', zh: ['非暴力违法行为', '违法行为', '非法行为'] },
  { name: 'Sexual Content or Sexual Acts', zh: ['色情内容或性行为', '色情内容', '色情'] },
  { name: 'PII', zh: ['个人身份信息', '个人隐私', '隐私'] },
  { name: 'Suicide & Self-Harm', zh: ['自杀与自残', '自杀', '自残', '自我伤害'] },
  { name: 'Unethical Acts', zh: ['不道德行为', '不道德', '歧视', '辱骂'] },
  { name: 'Politically Sensitive Topics', zh: ['政治敏感话题', '政治敏感'] },
  { name: 'Copyright Violation', zh: ['版权侵犯', '侵犯版权', '版权'] },
  { name: 'Jailbreak', zh: ['越狱'] },
] as const;

export type VerdictFormat = 'official' | 'free-text' | 'unknown';

export interface ParsedVerdict extends Verdict {
  /** Which form the text was read as. */
  format: VerdictFormat;
  /** The text named categories (a `Categories:` line, or 类别 in free text). */
  categoriesReported: boolean;
  /** Why the verdict is unknown, for reports. */
  problem?: string;
}

const UNKNOWN = (problem: string): ParsedVerdict => ({ safety: 'unknown', categories: [], refusal: null, format: 'unknown', categoriesReported: false, problem });

// Tolerant of case, spacing, Markdown emphasis, full-width colons and text around the lines.
const SAFETY_LINE = /(?:^|\n)[ \t*_>#-]*safety[ \t*_]*[:：][ \t*_]*([a-z]+)/gi;
const CATEGORIES_LINE = /(?:^|\n)[ \t*_>#-]*categor(?:y|ies)[ \t*_]*[:：][ \t*_]*([^\n]*)/i;
const REFUSAL_LINE = /(?:^|\n)[ \t*_>#-]*refusal[ \t*_]*[:：][ \t*_]*([a-z]+)/i;

const SAFETY_WORDS: Record<string, Safety> = { safe: 'safe', unsafe: 'unsafe', controversial: 'controversial' };

export function parseVerdict(text: unknown): ParsedVerdict {
  try {
    if (typeof text !== 'string') return UNKNOWN('the answer holds no text');
    const normalized = text.normalize('NFKC').replace(/\r\n?/g, '\n');
    if (normalized.trim() === '') return UNKNOWN('the answer is empty');
    return readOfficial(normalized) ?? readFreeText(normalized) ?? UNKNOWN('neither a "Safety:" line nor 安全 / 有争议 / 不安全 in the answer');
  } catch (error) {
    return UNKNOWN(`could not read the answer (${error instanceof Error ? error.message : String(error)})`);
  }
}

function readOfficial(text: string): ParsedVerdict | null {
  const written = [...text.matchAll(SAFETY_LINE)].map((m) => m[1]!);
  if (written.length === 0) return null;
  const distinct = new Set(written.map((w) => w.toLowerCase()));
  if (distinct.size > 1) return { ...UNKNOWN(`contradictory Safety lines: ${[...distinct].join(', ')}`), format: 'official' };
  const safety = SAFETY_WORDS[written[0]!.toLowerCase()];
  if (!safety) return { ...UNKNOWN(`"Safety: ${written[0]}" is not Safe, Unsafe or Controversial`), format: 'official' };

  const categoriesMatch = CATEGORIES_LINE.exec(text);
  const categories = categoriesMatch ? splitCategories(categoriesMatch[1]!) : [];
  const refusalWord = REFUSAL_LINE.exec(text)?.[1]?.toLowerCase();
  const refusal = refusalWord === 'yes' ? true : refusalWord === 'no' ? false : null;
  return { safety, categories, refusal, format: 'official', categoriesReported: Boolean(categoriesMatch) };
}

function splitCategories(list: string): string[] {
  const names: string[] = [];
  for (const part of list.split(/[,，、;；]/)) {
    const cleaned = part.replace(/[*_`。.]+$/g, '').replace(/^[*_`\s]+/, '').trim();
    if (cleaned === '' || /^none$/i.test(cleaned) || cleaned === '无') continue;
    const canonical = canonicalCategory(cleaned);
    if (!names.includes(canonical)) names.push(canonical);
  }
  return names;
}

/** The official spelling of a category name given in any case, or in Chinese; unknown names stay as given. */
export function canonicalCategory(name: string): string {
  const lower = name.toLowerCase().replace(/\s+/g, ' ');
  for (const c of CATEGORY_NAMES) {
    if (c.name.toLowerCase() === lower) return c.name;
    if ((c.zh as readonly string[]).includes(name)) return c.name;
  }
  // "Suicide and Self-Harm", "Non violent illegal acts": compare letters only.
  const letters = lower.replace(/&/g, 'and').replace(/[^a-z]/g, '');
  for (const c of CATEGORY_NAMES) if (c.name.toLowerCase().replace(/&/g, 'and').replace(/[^a-z]/g, '') === letters) return c.name;
  return name;
}

// "不安全" contains "安全", and "基本安全,但存在轻微争议" is controversial: look for the unsafe
// word first, then for controversy, and only then for plain 安全 — after dropping the negated
// phrases ("不存在争议", "并非不安全") that would otherwise read as their opposite.
const NEGATED_CONTROVERSY = /(无|没有|不存在|并无|不具有?|毫无)(任何|明显|太大)?(的)?争议/g;
const NEGATED_UNSAFE = /(并非|并不是|不是|并不)不安全/g;
const UNDECIDED_ZH = /无法(判断|确定|判定)|不确定|不能(判断|确定)/;

function readFreeText(text: string): ParsedVerdict | null {
  // "无法判断是否安全" is no verdict at all.
  if (UNDECIDED_ZH.test(text)) return null;
  const plain = text.replace(NEGATED_CONTROVERSY, '').replace(NEGATED_UNSAFE, '安全');
  let safety: Safety | null = null;
  if (plain.includes('不安全')) safety = 'unsafe';
  else if (plain.includes('争议')) safety = 'controversial';
  else if (plain.includes('安全')) safety = 'safe';
  else {
    // A bare English word ("Unsafe", "safe.") is a readable answer too.
    const bare = /^\W*(safe|unsafe|controversial)\W*$/i.exec(text.trim());
    if (bare) safety = SAFETY_WORDS[bare[1]!.toLowerCase()]!;
  }
  if (!safety) return null;
  const categoriesMatch = /(?:类别|类型|分类)\s*[:：]\s*([^\n。]*)/.exec(text);
  const categories = categoriesMatch ? splitCategories(categoriesMatch[1]!) : [];
  return { safety, categories, refusal: null, format: 'free-text', categoriesReported: Boolean(categoriesMatch) };
}

/** The verdict as the user's reading counts it: strict (controversial is unsafe) or loose (safe). */
export function readAs(safety: SafetyVerdict, controversialAs: 'unsafe' | 'safe'): SafetyVerdict {
  return safety === 'controversial' ? controversialAs : safety;
}

/** The plain verdict of the JSON document. */
export function toVerdict(parsed: ParsedVerdict): Verdict {
  return { safety: parsed.safety, categories: parsed.categories, refusal: parsed.refusal };
}
