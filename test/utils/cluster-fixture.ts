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
