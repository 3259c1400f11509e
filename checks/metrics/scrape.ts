/**
 * metrics.scrape: did --url answer with an exposition? How a failed scrape counts (CONTRACT.md
 * exit codes):
 * - connection refused, HTTP 404 or 5xx, a body over the size limit: `fail` (exit 1). The
 *   endpoint answered the question: nothing (or the wrong thing) is served there.
 * - a time-out, a reset or DNS failure, HTTP 401/403: `error` (exit 3). The doctor could not
 *   look at the metrics, so it cannot tell whether they are right.
 * Every other metrics check is `blockedBy` this one: a failed scrape is one cause, one failure.
 */
import { defineCheck, type Judgement } from '../../src/judge.js';
import { bytesHuman } from '../../src/report/format.js';

export const metricsScrape = defineCheck({
  id: 'metrics.scrape',
  title: 'Metrics endpoint answers',
  needs: ['scrape'],
  judge({ scrape }): Judgement {
    if (scrape.ok) {
      return {
        status: 'pass',
        summary: `${scrape.url} answered ${bytesHuman(scrape.bytes)} in ${scrape.durationMs} ms${scrape.contentType ? ` (${scrape.contentType})` : ''}`,
        measured: { status: scrape.status, bytes: scrape.bytes, contentType: scrape.contentType },
      };
    }
    const measured = { kind: scrape.kind, ...(scrape.status !== undefined ? { status: scrape.status } : {}) };
    const fail = (fix: string): Judgement => ({ status: 'fail', summary: scrape.message, fix, measured });
    const couldNotTell = (fix: string): Judgement => ({ status: 'error', summary: `could not tell: ${scrape.message}`, fix, measured });
    switch (scrape.kind) {
      case 'refused':
        return fail('start the metrics endpoint or correct --url: the web app usually serves /metrics on its own port (e.g. 8000), vLLM on its API port');
      case 'too-large':
        return fail('a metrics body this large means unbounded labels (ids, URLs); drop those labels');
      case 'status': {
        const status = scrape.status ?? 0;
        if (status === 401 || status === 403) {
          return couldNotTell('the endpoint needs credentials: put them in the URL (http://user:password@host:port/metrics) or scrape from where no authentication is asked');
        }
        return fail(status === 404 ? 'check the path of --url: Prometheus endpoints are usually at /metrics' : 'the server failed to render its metrics: read its log (guard-doctor diagnose)');
      }
      case 'timeout':
        return couldNotTell('the server is hung or overloaded, or a firewall drops the packets; raise --request-timeout if it is only slow');
      default:
        return couldNotTell('check the host and port of --url');
    }
  },
});
