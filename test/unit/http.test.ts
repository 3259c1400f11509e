/** The one HTTP client: limits, cut-off bodies, streaming, and stale keep-alive sockets. */
import { afterEach, describe, expect, it } from 'vitest';
import net from 'node:net';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpError, request } from '../../src/http.js';

const closers: Array<() => void> = [];
afterEach(() => {
  while (closers.length) closers.pop()!();
});

function listen(server: net.Server): Promise<number> {
  closers.push(() => server.close());
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

function reply(body: string): string {
  return `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: keep-alive\r\n\r\n${body}`;
}

describe('request()', () => {
  it('sends again on a new connection when a reused keep-alive socket is dropped before any answer', async () => {
    let connections = 0;
    const server = net.createServer((socket) => {
      const connection = ++connections;
      let requests = 0;
      socket.on('data', () => {
        requests += 1;
        // The first connection answers once, then is closed when reused: an idle timeout
        // racing the client's next request, as uvicorn's 5 s keep-alive timeout does.
        if (connection === 1 && requests === 2) socket.destroy();
        else socket.write(reply(`answer ${connection}.${requests}`));
      });
    });
    const port = await listen(server);
    const url = `http://127.0.0.1:${port}/`;
    expect((await request({ url, timeoutMs: 2000 })).body).toBe('answer 1.1');
    const second = await request({ url, timeoutMs: 2000 });
    expect(second.body).toBe('answer 2.1');
    expect(connections).toBe(2);
  });

  it('does not resend when a fresh connection is reset: that is the server\'s doing', async () => {
    let connections = 0;
    const server = net.createServer((socket) => {
      connections += 1;
      socket.on('data', () => socket.destroy());
    });
    const port = await listen(server);
    const error = await request({ url: `http://127.0.0.1:${port}/x`, timeoutMs: 2000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpError);
    expect((error as HttpError).kind).toBe('reset');
    expect(connections).toBe(1);
  });

  it('cuts a body off at the byte limit instead of buffering it, and says so', async () => {
    const big = 'x'.repeat(3 * 1024 * 1024);
    const server = http.createServer((_req, res) => res.end(big));
    const port = await listen(server);
    const response = await request({ url: `http://127.0.0.1:${port}/`, timeoutMs: 5000, maxBodyBytes: 1024 * 1024 });
    expect(response.truncated).toBe(true);
    expect(response.bytes).toBe(1024 * 1024);
    expect(response.body.length).toBe(1024 * 1024);
  });

  it('streams with onBody: chunks reach the callback, nothing is buffered', async () => {
    const server = http.createServer((_req, res) => {
      res.write('a'.repeat(100_000));
      res.end('b'.repeat(100_000));
    });
    const port = await listen(server);
    let streamed = 0;
    const response = await request({ url: `http://127.0.0.1:${port}/`, timeoutMs: 5000, onBody: (chunk, status) => {
      expect(status).toBe(200);
      streamed += chunk.length;
    } });
    expect(streamed).toBe(200_000);
    expect(response.body).toBe('');
    expect(response.bytes).toBe(200_000);
  });

  it('gives up at the time limit on a server that never answers', async () => {
    const server = net.createServer(() => {});
    const port = await listen(server);
    const error = await request({ url: `http://127.0.0.1:${port}/`, timeoutMs: 300 }).catch((e: unknown) => e);
    expect((error as HttpError).kind).toBe('timeout');
    expect((error as HttpError).message).toMatch(/within 0\.3 s/);
  });

  it('names refused connections and bad URLs by kind', async () => {
    const refused = await request({ url: 'http://127.0.0.1:1/', timeoutMs: 2000 }).catch((e: unknown) => e);
    expect((refused as HttpError).kind).toBe('refused');
    const bad = await request({ url: 'ftp://127.0.0.1/', timeoutMs: 2000 }).catch((e: unknown) => e);
    expect((bad as HttpError).kind).toBe('bad-url');
  });
});
