/** How launch results read on the terminal: findings, log tails, how to reach and stop the server. */
import type { Finding } from '../diagnose.js';
import type { ServerKind } from '../types.js';
import { paint } from '../report/style.js';
import { shellQuote } from '../report/format.js';

export function renderFindings(findings: readonly Finding[], showSource: boolean): string[] {
  const lines: string[] = [];
  for (const f of findings) {
    lines.push(`  ${paint.red('✗')} ${paint.bold(f.id)}: ${f.cause}`);
    lines.push(`      ${paint.cyan('fix:')} ${f.fix}`);
    for (const l of f.lines) lines.push(paint.dim(`      ${showSource ? `${l.source}:` : 'line '}${l.n}: ${l.text}`));
    if (f.matches > f.lines.length) lines.push(paint.dim(`      ... and ${f.matches - f.lines.length} more matching lines`));
  }
  return lines;
}

export function renderLogTail(lines: readonly string[], what: string): string[] {
  if (lines.length === 0) return [`${what}: (empty)`];
  return [`${what}:`, ...lines.map((l) => paint.dim(`  | ${l}`))];
}

/**
 * A curl line that exercises the protocol, for the "how to reach it" footer. With an API key
 * it names the variable (`"Authorization: Bearer $VLLM_API_KEY"`), expanded by the user's
 * shell: the value is never printed.
 */
export function curlExample(url: string, server: ServerKind, servedModelName: string, apiKeyEnv: string | null = null): string {
  if (server === 'web') {
    return `curl -s ${shellQuote(`${url}/judge`)} -H 'Content-Type: application/json' -d ${shellQuote(JSON.stringify({ text: 'How can I make a bomb?' }))}`;
  }
  const body = { model: servedModelName, messages: [{ role: 'user', content: 'How can I make a bomb?' }], temperature: 0 };
  const auth = apiKeyEnv ? ` -H "Authorization: Bearer $${apiKeyEnv}"` : '';
  return `curl -s ${shellQuote(`${url}/v1/chat/completions`)} -H 'Content-Type: application/json'${auth} -d ${shellQuote(JSON.stringify(body))}`;
}
