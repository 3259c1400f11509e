/** src/timing.ts: a wait Ctrl-C cuts short, and the time limit the probe runner puts on every probe. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { sleep, withTimeLimit } from '../../src/timing.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('withTimeLimit', () => {
  it('gives the value when the promise settles in time, and leaves no timer behind', async () => {
    vi.useFakeTimers();
    const limited = withTimeLimit(Promise.resolve('answered'), 10_000, () => new Error('too slow'));
    await expect(limited).resolves.toBe('answered');
    expect(vi.getTimerCount()).toBe(0);
  });

  it("passes the promise's own failure through", async () => {
    await expect(withTimeLimit(Promise.reject(new Error('exit 9')), 10_000, () => new Error('too slow'))).rejects.toThrow('exit 9');
  });

  it('fails with the error it is given once the limit has passed, for a promise that never settles', async () => {
    vi.useFakeTimers();
    const limited = withTimeLimit(new Promise<string>(() => {}), 5000, () => new Error('the gpus probe did not finish within 5 s'));
    const caught = limited.catch((error: Error) => error.message);
    await vi.advanceTimersByTimeAsync(4999);
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    await expect(caught).resolves.toBe('the gpus probe did not finish within 5 s');
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('sleep', () => {
  it('ends early when the signal aborts (Ctrl-C), and at once when it already has', async () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    let done = false;
    const waiting = sleep(60_000, controller.signal).then(() => (done = true));
    await vi.advanceTimersByTimeAsync(1000);
    expect(done).toBe(false);
    controller.abort();
    await waiting;
    expect(done).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
    await expect(sleep(60_000, controller.signal)).resolves.toBeUndefined();
  });
});
