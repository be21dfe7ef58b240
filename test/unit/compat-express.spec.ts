/**
 * Contract tests of src/compat/express.ts: each assumption it makes of Express' router, by its
 * name, against the installed version. A failure here names the assumption that broke.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { expressStack, mountTemplate, routeTemplate } from '../../src/compat/express';

const express = jest.requireActual<(() => ExpressApp) & { Router(): ExpressRouter }>('express');
const routerVersion = jest.requireActual<{ version: string }>('router/package.json').version;
type Handler = (req: IncomingMessage, res: ServerResponse, next: () => void) => void;
interface ExpressRouter {
  use(path: string, h: Handler | ExpressRouter): void;
  use(h: Handler): void;
  get(path: string, h: Handler): void;
}
interface ExpressApp extends ExpressRouter {
  router: unknown;
  post(path: string, h: Handler): void;
}
const noop: Handler = (_req, _res, next) => next();
const notNest = (): boolean => false;
const against = `router ${routerVersion}`;

describe(`Express router assumptions (${against})`, () => {
  function app(): ExpressApp {
    const a = express();
    a.use(noop);
    a.get('/tracks/:id', noop);
    a.post('/tracks', noop);
    a.use('/graphql', noop);
    const assets = express.Router();
    assets.use('/v2', noop);
    a.use('/assets', assets);
    return a;
  }

  it(`E1: app.router has the stack of layers (${against})`, () => {
    const stack = expressStack(app());
    expect(stack?.layers.length).toBeGreaterThanOrEqual(5);
  });

  it(`E2, E3: a mount's layer keeps its path as given, and match() returns { path, pattern } without storing it (${against})`, () => {
    const stack = expressStack(app());
    const mount = stack?.layers.find((l) => l.rawPath === '/graphql') as { match(p: string): unknown; params?: unknown } | undefined;
    expect(mount).toBeDefined();
    expect(mount?.match('/GraphQL')).toMatchObject({ path: '/GraphQL', pattern: '/graphql' });
    expect('params' in (mount as object)).toBe(false);
    expect(mountTemplate(stack!, '/GRAPHQL', notNest)).toBe('/graphql');
    expect(mountTemplate(stack!, '/assets/v2', notNest)).toBe('/assets/v2');
    expect(mountTemplate(stack!, '/elsewhere', notNest)).toBeUndefined();
  });

  it(`E4: a route's layer has route.path and route._handlesMethod, HEAD where GET is handled (${against})`, () => {
    const stack = expressStack(app());
    expect(routeTemplate(stack!, 'GET', '/tracks/7', notNest)).toBe('/tracks/:id');
    expect(routeTemplate(stack!, 'HEAD', '/tracks/7', notNest)).toBe('/tracks/:id');
    expect(routeTemplate(stack!, 'POST', '/tracks', notNest)).toBe('/tracks');
    expect(routeTemplate(stack!, 'DELETE', '/tracks/7', notNest)).toBeUndefined();
  });

  it(`E5: req.baseUrl is the mount's matched path while a mounted handler answers, and restored by next() (${against})`, async () => {
    const a = express();
    const seen: string[] = [];
    a.use('/graphql', (req, _res, next) => {
      seen.push((req as { baseUrl?: string }).baseUrl ?? '');
      next();
    });
    a.use((req: IncomingMessage, res: ServerResponse) => {
      seen.push((req as { baseUrl?: string }).baseUrl ?? '');
      res.end();
    });
    const { inject } = jest.requireActual<typeof import('light-my-request')>('light-my-request');
    await inject(a as never, { url: '/GraphQL/x' });
    expect(seen).toEqual(['/GraphQL', '']);
  });
});
