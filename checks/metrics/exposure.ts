/**
 * metrics.exposure: the metrics do not answer, without authentication, on an address of this
 * host that the network can reach. Judged from what the exposure probe (src/probes/exposure.ts)
 * found: where the URL's host is, and what the other addresses of this host said.
 */
import { defineCheck, type Judgement } from '../../src/judge.js';
import { NOT_SCRAPED } from './problems.js';

const FIX = 'bind the metrics server to 127.0.0.1 (uvicorn --host 127.0.0.1, prometheus_client start_http_server(port, addr="127.0.0.1")), publish it as -p 127.0.0.1:PORT:PORT, or put it behind authentication';

export const metricsExposure = defineCheck({
  id: 'metrics.exposure',
  title: 'Exposure to the network',
  needs: ['scrape', 'exposure'],
  blockedBy: 'metrics.scrape',
  judge({ scrape, exposure }): Judgement {
    if (!scrape.ok) return NOT_SCRAPED;
    const { hostname, port, kind, credentialed, tried } = exposure;
    if (kind === 'elsewhere') {
      return { status: 'skip', summary: `${hostname} is not this host; exposure is only tried on this host's own addresses` };
    }
    if (kind === 'this-host' && !credentialed) {
      return {
        status: 'warn',
        summary: `the metrics answer on ${hostname}:${port}, an address of this host reachable from the network, without authentication`,
        fix: FIX,
        measured: { exposedOn: [`${hostname}:${port}`] },
      };
    }
    if (tried.length === 0) return { status: 'pass', summary: 'this host has no address other than loopback' };
    const exposed = tried.filter((t) => t.outcome === 'answers');
    const measured = { port, tried, exposedOn: exposed.map((t) => t.address) };
    if (exposed.length > 0) {
      const where = exposed.map((t) => `${t.address.includes(':') ? `[${t.address}]` : t.address}:${port}`).join(', ');
      return { status: 'warn', summary: `the metrics also answer without authentication on ${where}, reachable from the network`, fix: FIX, measured };
    }
    const said = tried.map((t) => `${t.address}: ${t.outcome}`).join(', ');
    return { status: 'pass', summary: `not served without authentication on this host's other addresses (${said})`, measured };
  },
});
