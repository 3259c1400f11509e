import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { canonicalCategory, CATEGORY_NAMES, parseVerdict, readAs } from '../../src/verdict.js';

describe('official Qwen3Guard-Gen lines', () => {
  it('reads prompt moderation output', () => {
    expect(parseVerdict('Safety: Unsafe\nCategories: Violent')).toMatchObject({ safety: 'unsafe', categories: ['Violent'], refusal: null, format: 'official', categoriesReported: true });
    expect(parseVerdict('Safety: Safe\nCategories: None')).toMatchObject({ safety: 'safe', categories: [], refusal: null });
    expect(parseVerdict('Safety: Controversial\nCategories: Politically Sensitive Topics')).toMatchObject({ safety: 'controversial', categories: ['Politically Sensitive Topics'] });
  });

  it('reads response moderation output with the Refusal line', () => {
    expect(parseVerdict('Safety: Safe\nCategories: None\nRefusal: Yes')).toMatchObject({ safety: 'safe', refusal: true });
    expect(parseVerdict('Safety: Unsafe\nCategories: Violent, Non-violent Illegal Acts\nRefusal: No')).toMatchObject({
      safety: 'unsafe',
      categories: ['Violent', 'Non-violent Illegal Acts'],
      refusal: false,
    });
  });

  it('tolerates case, spacing, full-width colons, Markdown and text around the lines', () => {
    expect(parseVerdict('  safety :   UNSAFE \r\n categories:violent ,  jailbreak\n')).toMatchObject({ safety: 'unsafe', categories: ['Violent', 'Jailbreak'] });
    expect(parseVerdict('Safety：Unsafe\nCategories：Suicide & Self-Harm')).toMatchObject({ safety: 'unsafe', categories: ['Suicide & Self-Harm'] });
    expect(parseVerdict('Here is my assessment.\n\n**Safety**: Controversial\n**Categories**: Unethical Acts\nThanks.')).toMatchObject({ safety: 'controversial', categories: ['Unethical Acts'] });
    expect(parseVerdict('<think>\n</think>\nSafety: Safe\nCategories: None')).toMatchObject({ safety: 'safe' });
  });

  it('keeps a category name it does not know as given, and maps spelling variants', () => {
    expect(parseVerdict('Safety: Unsafe\nCategories: Weapons').categories).toEqual(['Weapons']);
    expect(canonicalCategory('suicide and self-harm')).toBe('Suicide & Self-Harm');
    expect(canonicalCategory('non violent illegal acts')).toBe('Non-violent Illegal Acts');
  });

  it('treats contradictory or unknown Safety values as unknown', () => {
    expect(parseVerdict('Safety: Safe\nSafety: Unsafe').safety).toBe('unknown');
    expect(parseVerdict('Safety: Maybe\nCategories: None')).toMatchObject({ safety: 'unknown', problem: expect.stringContaining('Maybe') });
  });
});

describe('the web image Chinese free text', () => {
  it('reads 安全 / 有争议 / 不安全, checking 不安全 before 安全', () => {
    expect(parseVerdict('该内容安全。').safety).toBe('safe');
    expect(parseVerdict('该内容不安全。').safety).toBe('unsafe');
    expect(parseVerdict('该内容有争议。').safety).toBe('controversial');
    expect(parseVerdict('不安全').format).toBe('free-text');
  });

  it('reads "basically safe, but slightly controversial" as controversial', () => {
    expect(parseVerdict('该内容基本安全,但存在轻微争议。').safety).toBe('controversial');
    expect(parseVerdict('该内容基本安全，但存在轻微争议。').safety).toBe('controversial');
  });

  it('does not let negations flip the verdict', () => {
    expect(parseVerdict('该内容安全,不存在争议。').safety).toBe('safe');
    expect(parseVerdict('该内容并非不安全。').safety).toBe('safe');
    expect(parseVerdict('我无法判断该内容是否安全。').safety).toBe('unknown');
  });

  it('maps the Chinese category names', () => {
    expect(parseVerdict('该内容不安全。类别:暴力、越狱。')).toMatchObject({ safety: 'unsafe', categories: ['Violent', 'Jailbreak'], categoriesReported: true });
    expect(parseVerdict('该内容安全。').categoriesReported).toBe(false);
  });
});

describe('anything else is unknown', () => {
  it.each([
    ['', 'empty'],
    ['   \n ', 'blank'],
    ['Sure! Here is a short poem about the sea:', 'an ordinary chat answer'],
    ['<|im_end|>', 'a special token'],
    ['抱歉,我不太明白您的意思。', 'Chinese without a verdict'],
  ])('%j (%s)', (text) => {
    expect(parseVerdict(text).safety).toBe('unknown');
  });

  it('is unknown for values that are not text', () => {
    for (const value of [null, undefined, 42, {}, ['Safety: Safe']]) expect(parseVerdict(value).safety).toBe('unknown');
  });
});

describe('readAs (--controversial-as)', () => {
  it('maps controversial only, and never makes unknown safe', () => {
    expect(readAs('controversial', 'unsafe')).toBe('unsafe');
    expect(readAs('controversial', 'safe')).toBe('safe');
    expect(readAs('unknown', 'safe')).toBe('unknown');
    expect(readAs('unsafe', 'safe')).toBe('unsafe');
  });
});

describe('properties', () => {
  it('never throws, whatever the input', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' }), fc.anything()), (value) => {
        const parsed = parseVerdict(value);
        expect(['safe', 'controversial', 'unsafe', 'unknown']).toContain(parsed.safety);
        expect(Array.isArray(parsed.categories)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws on text built from the words it looks for', () => {
    const pieces = fc.constantFrom('Safety', 'Categories', 'Refusal', ':', '：', ' ', '\n', 'Safe', 'Unsafe', 'Controversial', 'Yes', 'No', '安全', '不安全', '争议', '不存在', '类别', ',', '、', '*', 'None', '\r');
    fc.assert(
      fc.property(fc.array(pieces, { maxLength: 40 }), (parts) => {
        parseVerdict(parts.join(''));
      }),
      { numRuns: 2000 },
    );
  });

  it('unknown is never safe: text without a verdict word reads as unknown', () => {
    const noVerdictWords = fc.string({ unit: 'grapheme' }).filter((s) => !/safe|安全|争议|controversial/i.test(s.normalize('NFKC')));
    fc.assert(
      fc.property(noVerdictWords, (text) => {
        expect(parseVerdict(text).safety).toBe('unknown');
      }),
      { numRuns: 1000 },
    );
  });

  it('free text holding 不安全 (not negated) never reads as safe', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (before, after) => {
        fc.pre(!/(并非|并不是|不是|并不)$/.test(before) && !/safety\s*[:：]/i.test(before + after));
        expect(parseVerdict(`${before}不安全${after}`).safety).not.toBe('safe');
      }),
      { numRuns: 1000 },
    );
  });

  it('reads back every official answer it could be given', () => {
    const category = fc.constantFrom(...CATEGORY_NAMES.map((c) => c.name));
    fc.assert(
      fc.property(fc.constantFrom('Safe', 'Unsafe', 'Controversial'), fc.uniqueArray(category, { maxLength: 4 }), fc.option(fc.boolean(), { nil: null }), (safety, categories, refusal) => {
        const text = [`Safety: ${safety}`, `Categories: ${categories.length ? categories.join(', ') : 'None'}`, ...(refusal === null ? [] : [`Refusal: ${refusal ? 'Yes' : 'No'}`])].join('\n');
        expect(parseVerdict(text)).toMatchObject({ safety: safety.toLowerCase(), categories, refusal });
      }),
    );
  });
});
