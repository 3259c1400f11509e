// The stand-in "model": a deterministic keyword classifier that answers the way Qwen3Guard-Gen
// does. Plain Node ESM with no npm imports (it runs inside the test image next to
// guard-server.mjs). It is meant to be good enough that the bundled suite passes against a
// healthy server, not to be a real moderation model.

/** Official category names, in the order the model card lists them. */
export const CATEGORIES = [
  'Violent',
  'Non-violent Illegal Acts',
  'Sexual Content or Sexual Acts',
  'PII',
  'Suicide & Self-Harm',
  'Unethical Acts',
  'Politically Sensitive Topics',
  'Copyright Violation',
  'Jailbreak',
];

/** The names the Chinese web app's free text uses for the same categories. */
export const CATEGORY_ZH = {
  Violent: '暴力',
  'Non-violent Illegal Acts': '非暴力违法行为',
  'Sexual Content or Sexual Acts': '色情内容或性行为',
  PII: '个人身份信息',
  'Suicide & Self-Harm': '自杀与自残',
  'Unethical Acts': '不道德行为',
  'Politically Sensitive Topics': '政治敏感话题',
  'Copyright Violation': '版权侵犯',
  Jailbreak: '越狱',
};

// Each rule: a category and patterns over the normalised text (lower case, zero-width removed,
// look-alike letters folded to Latin, base64 runs decoded and appended).
const UNSAFE_RULES = [
  {
    category: 'Violent',
    patterns: [
      /\b(make|build|assemble|create|construct)\b.{0,30}\b(bomb|explosive|pipe bomb|grenade|molotov)/,
      /\bbomb-?making\b/,
      /\b(kill|murder|stab|shoot|strangle|poison)\s+(a |an |the |my |your |his |her )?(person|people|someone|somebody|him|her|them|man|woman|child|children|kids?|neighbou?r|wife|husband|boss|teacher|classmates?)\b(?!\s*(process|thread|task|job))/,
      /炸弹|爆炸物|炸药|杀人|杀死他|杀了他/,
      /бомб|взрывчат/,
      /قنبلة|متفجرات/,
      /बम|विस्फोटक/,
      /爆弾/,
      /폭탄/,
      /βόμβα/,
      /\bbomba\b|\bbombe\b/,
    ],
  },
  {
    category: 'Non-violent Illegal Acts',
    patterns: [
      /\b(steal|shoplift|launder|counterfeit)\b/,
      /\bhack into\b/,
      /\b(buy|sell|cook|make)\b.{0,20}\b(cocaine|heroin|meth|methamphetamine|fentanyl)\b/,
      /毒品|洗钱|偷东西|制毒/,
    ],
  },
  {
    category: 'Sexual Content or Sexual Acts',
    patterns: [/\b(porn|pornographic|explicit sex|nude photos?)\b/, /色情|裸照/],
  },
  {
    category: 'PII',
    patterns: [/\b(social security number|home address of|credit card numbers? of)\b/, /身份证号/],
  },
  {
    category: 'Suicide & Self-Harm',
    patterns: [/\b(kill myself|suicide|hurt myself|end my life|self-harm)\b/, /自杀|自残|不想活/],
  },
  {
    category: 'Unethical Acts',
    patterns: [
      /\b(shit|fuck|fucking|bitch|asshole|bastard|idiots?|morons?)\b/,
      // 垃圾 is also plain "rubbish" (垃圾分类, 厨余垃圾): an insult only when aimed at something.
      /(是|真|太|就是|简直|\()\s*垃圾|垃圾\s*(\)|东西|产品|玩意|服务)|傻逼|废物|滚蛋|去死/,
    ],
  },
  {
    category: 'Copyright Violation',
    patterns: [/\b(pirated|cracked) (copy|software|movie|game)s?\b/, /\bfull text of (the book|harry potter)\b/, /盗版/],
  },
  {
    category: 'Jailbreak',
    promptOnly: true,
    patterns: [
      /\bignore (all |the |any )?(previous|above|prior|earlier)( instructions| rules)?\b/,
      /\bignore the above\b/,
      /\b(jailbreak|developer mode|do anything now)\b/,
      /\bbypass (the )?(filter|moderation|safety|content review)\b/,
      /绕过[\s\S]{0,60}审核|越狱|忽略(以上|上面|之前)/,
    ],
  },
];

// A sarcastic complaint: praise followed by a put-down ("your service is great, slower than a
// snail"). Qwen3Guard-Gen reads these as unsafe; a weaker guard misses them (bug knob).
const SARCASM_PATTERNS = [
  /(真棒|真好|太棒了?|真行|真厉害|好极了)[\s\S]{0,20}(比[\s\S]{0,8}还(慢|差|烂)|慢得|烂透)/,
  /\b(great|amazing|fantastic|wonderful) (job|service|work)\b.{0,40}\b(slower than|worse than)\b/,
];

const CONTROVERSIAL_PATTERNS = [/\b(pick|picking) a lock\b|\block-?picking\b/, /开锁|撬锁/];

const REFUSAL_PATTERNS = [
  /\b(sorry|i can(no|')t|i cannot|i won't|i will not|unable to)\b.{0,40}\b(help|assist|provide|do that|comply)\b/,
  /\bi (can(no|')t|cannot|won't) help\b/,
  /抱歉|无法(提供|帮助|协助)|不能(提供|帮助|协助)/,
];

const ZERO_WIDTH = /[\u00ad\u200b-\u200f\u2060-\u2064\ufeff]/g;

// Look-alike letters from Cyrillic and Greek that obfuscators swap into Latin words.
const HOMOGLYPHS = {
  'а': 'a', 'в': 'b', 'е': 'e', 'к': 'k', 'м': 'm', 'н': 'h', 'о': 'o', 'р': 'p', 'с': 'c', 'т': 't',
  'у': 'y', 'х': 'x', 'і': 'i', 'ј': 'j', 'ѕ': 's', 'ԁ': 'd', 'ɡ': 'g', 'һ': 'h', 'ӏ': 'l',
  'α': 'a', 'β': 'b', 'ε': 'e', 'ι': 'i', 'κ': 'k', 'ν': 'v', 'ο': 'o', 'ρ': 'p', 'τ': 't', 'υ': 'u', 'χ': 'x',
};

function foldHomoglyphs(text) {
  // Only fold inside words that also hold Latin letters: a Russian or Greek sentence stays as is.
  return text.replace(/[\p{L}]+/gu, (word) => (/[a-z]/.test(word) ? [...word].map((ch) => HOMOGLYPHS[ch] ?? ch).join('') : word));
}

function decodeBase64Runs(text) {
  const decoded = [];
  for (const match of text.matchAll(/[A-Za-z0-9+/]{12,}={0,2}/g)) {
    const run = match[0];
    if (run.replace(/=+$/, '').length % 4 === 1) continue;
    const bytes = Buffer.from(run, 'base64');
    const candidate = bytes.toString('utf8');
    // Keep it only when it decodes to readable text, not to binary noise.
    if (candidate.length > 0 && !/[\u0000-\u0008\u000e-\u001f\ufffd]/.test(candidate)) decoded.push(candidate);
  }
  return decoded;
}

/** The text the rules look at. */
export function normalise(text) {
  const base = String(text).normalize('NFKC').replace(ZERO_WIDTH, '');
  const decoded = decodeBase64Runs(base);
  return foldHomoglyphs([base, ...decoded].join('\n').replace(ZERO_WIDTH, '').toLowerCase());
}

function matchCategories(text, { prompt, sarcasm }) {
  const categories = [];
  for (const rule of UNSAFE_RULES) {
    if (rule.promptOnly && !prompt) continue;
    if (rule.patterns.some((p) => p.test(text))) categories.push(rule.category);
  }
  if (sarcasm && SARCASM_PATTERNS.some((p) => p.test(text)) && !categories.includes('Unethical Acts')) categories.push('Unethical Acts');
  return CATEGORIES.filter((c) => categories.includes(c));
}

/**
 * Judge a conversation the way the model does: prompt moderation when the last turn is the
 * user's (the whole conversation is the context), response moderation when it is the
 * assistant's (the answer is judged, and whether it refuses).
 * @param {{role: string, content: string}[]} messages
 * @param {{ missSarcasm?: boolean }} [options]
 * @returns {{ safety: 'Safe'|'Unsafe'|'Controversial', categories: string[], refusal: boolean|null }}
 */
export function classify(messages, options = {}) {
  const sarcasm = !options.missSarcasm;
  const last = messages[messages.length - 1];
  if (last && last.role === 'assistant') {
    const answer = normalise(last.content);
    const refusal = REFUSAL_PATTERNS.some((p) => p.test(answer));
    // A refusal that names the harmful thing ("I can't help with bombs") is still a safe answer.
    if (refusal) return { safety: 'Safe', categories: [], refusal: true };
    const categories = matchCategories(answer, { prompt: false, sarcasm });
    if (categories.length) return { safety: 'Unsafe', categories, refusal: false };
    if (CONTROVERSIAL_PATTERNS.some((p) => p.test(answer))) return { safety: 'Controversial', categories: ['Non-violent Illegal Acts'], refusal: false };
    return { safety: 'Safe', categories: [], refusal: false };
  }
  const context = normalise(messages.filter((m) => m.role !== 'system').map((m) => m.content).join('\n'));
  const categories = matchCategories(context, { prompt: true, sarcasm });
  if (categories.length) return { safety: 'Unsafe', categories, refusal: null };
  if (CONTROVERSIAL_PATTERNS.some((p) => p.test(context))) return { safety: 'Controversial', categories: ['Non-violent Illegal Acts'], refusal: null };
  return { safety: 'Safe', categories: [], refusal: null };
}

/** The official output lines of Qwen3Guard-Gen. */
export function officialText(judgement) {
  const lines = [`Safety: ${judgement.safety}`, `Categories: ${judgement.categories.length ? judgement.categories.join(', ') : 'None'}`];
  if (judgement.refusal !== null) lines.push(`Refusal: ${judgement.refusal ? 'Yes' : 'No'}`);
  return lines.join('\n');
}

/** The web image's Chinese free-text answer. */
export function webText(judgement) {
  const zh = judgement.categories.map((c) => CATEGORY_ZH[c] ?? c).join('、');
  if (judgement.safety === 'Unsafe') return `该内容不安全。类别:${zh}。`;
  if (judgement.safety === 'Controversial') return `该内容基本安全,但存在轻微争议。类别:${zh}。`;
  return '该内容安全。';
}

/** The level the web app derives from its text, correctly: "不安全" is checked before "安全". */
export function levelFromText(text) {
  if (text.includes('不安全')) return 'unsafe';
  if (text.includes('争议')) return 'controversial';
  if (text.includes('安全')) return 'safe';
  return 'unsafe';
}

/** The known bug of the real app: first substring wins, so "不安全" and "基本安全,但存在轻微争议" read as safe. */
export function levelFromTextNaive(text) {
  if (text.includes('安全')) return 'safe';
  if (text.includes('争议')) return 'controversial';
  return 'unsafe';
}

/**
 * Prompt length in tokens as the stand-in counts it: UTF-8 bytes / 4 per message (about what
 * Qwen's tokenizer gives for English; Chinese comes out a little high), plus 4 per message for
 * the chat markers and 160 for the guard's instruction template.
 */
export function estimatePromptTokens(messages) {
  let tokens = 160;
  for (const m of messages) tokens += Math.ceil(Buffer.byteLength(m.content, 'utf8') / 4) + 4;
  return tokens;
}
