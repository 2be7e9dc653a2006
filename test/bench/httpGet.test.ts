// The bench's query loop (harness/bench/httpGet.ts, convergence.ts sampleLookups): answers read
// whole by Content-Length or chunks however they arrive, one kept-alive connection for every
// GET, a new one when the server closes it; lookups spread over the whole table.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { sampleLookups } from '../../src/harness/bench/convergence.js';
import { KeepAliveGet, parseAnswer } from '../../src/harness/bench/httpGet.js';
import { generateTable } from '../../src/harness/tablegen/index.js';

describe('parseAnswer', () => {
  const sized = Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"a":[1,2]}HTTP/1.1 404');
  const chunked = Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n');

  it('reads an answer by its Content-Length, and where the next begins', () => {
    const p = parseAnswer(sized)!;
    expect(p.answer.status).toBe(200);
    expect(p.answer.body.toString()).toBe('{"a":[1,2]}');
    expect(sized.subarray(p.end).toString()).toBe('HTTP/1.1 404');
    expect(p.close).toBe(false);
  });

  it('joins chunks, and sees Connection: close', () => {
    const p = parseAnswer(chunked)!;
    expect(p.answer.body.toString()).toBe('hello, world');
    expect(p.end).toBe(chunked.length);
    expect(p.close).toBe(true);
  });

  it('waits for the rest of an answer cut anywhere', () => {
    for (const whole of [sized.subarray(0, sized.length - 12), chunked]) {
      for (let cut = 0; cut < whole.length; cut++) expect(parseAnswer(whole.subarray(0, cut))).toBeUndefined();
      expect(parseAnswer(whole)).toBeDefined();
    }
  });

  it('takes chunk extensions and trailer fields, and where the next answer begins after them', () => {
    const b = Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nX-Checksum: 1\r\n\r\nHTTP/1.1 204');
    const p = parseAnswer(b)!;
    expect(p.answer.body.toString()).toBe('abc');
    expect(b.subarray(p.end).toString()).toBe('HTTP/1.1 204');
  });

  it('refuses what is not an HTTP answer, a bad Content-Length and a bad chunk size', () => {
    expect(() => parseAnswer(Buffer.from('SSH-2.0-OpenSSH\r\n\r\n'))).toThrow(/not an HTTP answer/);
    expect(() => parseAnswer(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\nabc'))).toThrow(/bad Content-Length/);
    expect(() => parseAnswer(Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-a\r\nabc\r\n'))).toThrow(/bad chunk size/);
  });
});

describe('KeepAliveGet', () => {
  let server: Server | undefined;
  afterEach(() => server?.close());

  /** A server that answers /sized, /chunked (in pieces), /close (and closes) and 404; counts connections. */
  async function serve(): Promise<{ port: number; connections: () => number }> {
    let connections = 0;
    server = createServer((req, res) => {
      if (req.url === '/chunked') {
        res.writeHead(200);
        res.write('hel');
        setTimeout(() => res.end('lo'), 5);
      } else if (req.url?.startsWith('/sized')) {
        res.writeHead(200, { 'Content-Length': Buffer.byteLength(req.url) }).end(req.url);
      } else if (req.url === '/close') {
        res.writeHead(200, { Connection: 'close', 'Content-Length': 3 }).end('bye');
      } else res.writeHead(404, { 'Content-Length': 0 }).end();
    });
    server.on('connection', () => connections++);
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    return { port: (server.address() as AddressInfo).port, connections: () => connections };
  }

  it('asks every GET over one connection and reads each answer whole', async () => {
    const { port, connections } = await serve();
    const http = new KeepAliveGet('127.0.0.1', port);
    for (let i = 0; i < 200; i++) {
      const a = await http.get(`/sized?i=${i}`);
      expect(a.status).toBe(200);
      expect(a.body.toString()).toBe(`/sized?i=${i}`);
    }
    expect((await http.get('/chunked')).body.toString()).toBe('hello');
    expect((await http.get('/nothing')).status).toBe(404);
    expect(connections()).toBe(1);
    http.close();
  });

  it('opens another connection after the server closed one', async () => {
    const { port, connections } = await serve();
    const http = new KeepAliveGet('127.0.0.1', port);
    expect((await http.get('/close')).body.toString()).toBe('bye');
    expect((await http.get('/sized')).body.toString()).toBe('/sized');
    expect(connections()).toBe(2);
    http.close();
  });

  it('fails a GET not answered in time, or waiting when the client is closed', async () => {
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = silent.address() as AddressInfo;
      await expect(new KeepAliveGet('127.0.0.1', port, 200).get('/sized')).rejects.toThrow(/no answer in 200 ms/);
      const http = new KeepAliveGet('127.0.0.1', port);
      const waiting = http.get('/sized');
      http.close();
      await expect(waiting).rejects.toThrow(/closed/);
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });

  it('fails a GET when nothing listens, and refuses two at once', async () => {
    const { port } = await serve();
    await new Promise<void>((resolve) => server!.close(() => resolve()));
    server = undefined;
    await expect(new KeepAliveGet('127.0.0.1', port).get('/sized')).rejects.toThrow();
    const again = await serve();
    const http = new KeepAliveGet('127.0.0.1', again.port);
    const first = http.get('/chunked');
    await expect(http.get('/sized')).rejects.toThrow(/one GET at a time/);
    expect((await first).body.toString()).toBe('hello');
    http.close();
  });
});

describe('sampleLookups', () => {
  it('takes addresses from UPDATEs spread over the whole table', () => {
    const table = generateTable({ senderAs: 64500, ipv4Prefixes: 20_000, ipv6Prefixes: 0 });
    const lookups = sampleLookups(table);
    expect(lookups.length).toBeGreaterThan(32);
    expect(new Set(lookups).size).toBe(lookups.length);
    for (const a of lookups) expect(a).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    // From the first /8s to the last: not all from the table's start.
    const firstOctets = new Set(lookups.map((a) => a.split('.')[0]));
    expect(firstOctets.size).toBeGreaterThan(10);
  });
});
