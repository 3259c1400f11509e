/** The terminal report of `watch`: the checks, then one row per process and GPU with its trend. */
import type { Report } from '../types.js';
import type { Settings } from '../settings.js';
import type { Trends } from '../watch/trend.js';
import { footer, renderChecks } from './human.js';
import { paint } from './style.js';
import { padEnd } from './format.js';
import { seconds } from '../watch/format.js';

/** First, last and max memory, growth and verdict per process and per GPU ('' rows when none). */
export function trendTable(trends: Trends): string[] {
  const rows = [...[...trends.processes].map(([pid, t]) => [`pid ${pid}`, t] as const), ...[...trends.gpus].map(([i, t]) => [`GPU ${i}`, t] as const)];
  if (rows.length === 0) return [];
  const mib = (n: number | null) => (n === null ? '-' : `${n} MiB`);
  return [
    `  ${padEnd('', 10)}${padEnd('first', 12)}${padEnd('last', 12)}${padEnd('max', 12)}${padEnd('MiB/min', 10)}trend`,
    ...rows.map(([who, t]) => `  ${padEnd(who, 10)}${padEnd(mib(t.firstMiB), 12)}${padEnd(mib(t.lastMiB), 12)}${padEnd(mib(t.maxMiB), 12)}${padEnd(t.slopeMiBPerMin === null ? '-' : String(t.slopeMiBPerMin), 10)}${t.verdict}`),
  ];
}

export function watchTitle(settings: Settings, endedEarly: boolean): string {
  return `GPU memory every ${seconds(settings.intervalMs)} for ${seconds(settings.durationMs)}${endedEarly ? ' (ended early by Ctrl-C)' : ''}`;
}

export function renderWatchReport(report: Report, settings: Settings, trends: Trends, endedEarly: boolean): string[] {
  const table = trendTable(trends);
  return [
    paint.bold(`guard-doctor watch: ${watchTitle(settings, endedEarly)}`),
    '',
    ...renderChecks(report.checks ?? [], settings.verbose),
    ...(table.length ? ['', ...table] : []),
    '',
    footer(report, 'check'),
  ];
}
