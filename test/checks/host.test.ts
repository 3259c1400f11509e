/** host.reachable and host.tunnel: the fleet's own results, built from what ssh said. */
import { describe, expect, it } from 'vitest';
import { hostReachable, reachableCheck } from '../../checks/host/reachable.js';
import { hostTunnel, tunnelFailedCheck } from '../../checks/host/tunnel.js';

describe('host.reachable', () => {
  it('passes with the host named when the connection is up', () => {
    const result = reachableCheck('gpu-a', { ok: true, durationMs: 312 }, 10_000);
    expect(result).toMatchObject({ id: hostReachable.id, title: 'Host reachable over SSH', status: 'pass', summary: 'connected to gpu-a over ssh', durationMs: 312 });
  });

  it('is an error (could not judge), never a failure or a pass, quoting ssh and naming the limit', () => {
    // ssh's own words for a key the host refuses (OpenSSH 9, BatchMode=yes).
    const said = 'gd@127.0.0.1: Permission denied (publickey).';
    const result = reachableCheck('gd@127.0.0.1:2222', { ok: false, message: said, durationMs: 180 }, 10_000);
    expect(result.status).toBe('error');
    expect(result.summary).toBe(`could not reach gd@127.0.0.1:2222 over ssh: ${said}`);
    expect(result.fix).toContain('`ssh gd@127.0.0.1:2222 true`');
    expect(result.fix).toContain('10 s (--probe-timeout)');
  });
});

describe('host.tunnel', () => {
  it('is an error that says what could not be forwarded and the sshd setting that allows it', () => {
    const result = tunnelFailedCheck('could not forward a local port to 127.0.0.1:8000 on gpu-a: administratively prohibited: open failed');
    expect(result).toMatchObject({ id: hostTunnel.id, title: 'SSH forward to the server', status: 'error' });
    expect(result.summary).toContain('administratively prohibited');
    expect(result.fix).toContain('AllowTcpForwarding yes');
  });
});
