import { request, type Agent } from 'node:http';
import * as path from 'node:path';
import { compileTree, ROOT } from './compile-tree';

/**
 * Compiles src/ to CommonJS in a directory of this run (inside the repository, so that the
 * workers resolve @nestjs/* and prom-client from its node_modules): each file on its own, as
 * `isolatedModules` allows ({@link compileTree} with src/ as its root), without touching the dist/
 * other runs may be using. Returns the compiled entry point.
 */
export function compileLibrary(out: string): string {
  compileTree(out, ['.'], path.join(ROOT, 'src'));
  return path.join(out, 'index.js');
}

/** GETs `url` on `agent`, with `headers`; the status and body. */
export function get(
  url: string,
  agent?: Agent,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.setTimeout(120_000, () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/**
 * The messages a fixture's cluster primary sends its test: each is handed to the first waiting
 * `next()` it matches, or kept until one asks for it.
 */
export class MessageInbox<M> {
  private readonly kept: M[] = [];
  private readonly waiters: { match: (m: M) => boolean; resolve: (m: M) => void }[] = [];

  /** @param describe What the primary printed so far, for the error of a message that never came. */
  constructor(private readonly describe: () => string) {}

  /** Hands a message from the primary to its waiter, or keeps it. */
  receive(message: M): void {
    const waiter = this.waiters.findIndex((w) => w.match(message));
    if (waiter >= 0) this.waiters.splice(waiter, 1)[0]?.resolve(message);
    else this.kept.push(message);
  }

  /** The next message that `match`es (already received ones count), within `timeoutMs`. */
  next(match: (m: M) => boolean, timeoutMs: number): Promise<M> {
    const index = this.kept.findIndex(match);
    if (index >= 0) return Promise.resolve(this.kept.splice(index, 1)[0]);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(`no message from the cluster primary within ${timeoutMs} ms:\n${this.describe()}`),
          ),
        timeoutMs,
      );
      this.waiters.push({
        match,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
    });
  }
}
