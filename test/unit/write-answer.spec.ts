import { createServer, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeAnswer, type NodeResponseLike } from '../../src/endpoint/write-answer';

const ANSWER = {
  status: 200,
  headers: { 'Content-Type': 'text/plain; charset=utf-8' },
  body: [Buffer.from('a 1\n')],
};

/** Runs `handle` on a real Node response, and returns what the client received. */
async function exchange(handle: (res: ServerResponse) => void): Promise<{ status: number; body: string }> {
  const server = createServer((_req, res) => handle(res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    return await new Promise((resolve, reject) => {
      request({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
        .on('error', reject)
        .end();
    });
  } finally {
    server.close();
  }
}

describe('writeAnswer', () => {
  it('writes the status, the exact Content-Length and the chunks', async () => {
    expect(await exchange((res) => writeAnswer(res as NodeResponseLike, ANSWER, false))).toEqual({
      status: 200,
      body: 'a 1\n',
    });
  });

  it('leaves alone a response something else answered first, without throwing', async () => {
    const received = await exchange((res) => {
      res.writeHead(503).end('busy\n');
      expect(() => writeAnswer(res as NodeResponseLike, ANSWER, false)).not.toThrow();
    });
    expect(received).toEqual({ status: 503, body: 'busy\n' });
  });

  it('leaves alone a response whose headers are sent, without throwing', async () => {
    const received = await exchange((res) => {
      res.writeHead(202, { 'Content-Length': '3' });
      expect(() => writeAnswer(res as NodeResponseLike, ANSWER, false)).not.toThrow();
      res.end('ok\n');
    });
    expect(received).toEqual({ status: 202, body: 'ok\n' });
  });
});
