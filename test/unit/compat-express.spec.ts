/**
 * Contract tests of src/compat/express.ts: each assumption it makes of Express' router, by its
 * name, against the installed version (Express 5 and its router 2.x here; Express 4 with its
 * built-in router under `npm run test:matrix`'s Nest 10 run). A failure here names the assumption
 * that broke.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import {
  AppRoutes,
  answeredRoute,
  beforeEveryRequest,
  expressStack,
  joinTemplate,
  mountedTemplate,
  mountTemplate,
  routeOfRequest,
  routeTemplate,
} from '../../src/compat/express';

const express = jest.requireActual<(() => ExpressApp) & { Router(): ExpressRouter }>('express');
/** The installed Express (the one `require('express')` loads, a matrix fixture's included) and its router. */
const expressDir = dirname(require.resolve('express'));
const version = (dir: string): string =>
  (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version;
const expressVersion = version(expressDir);
const express4 = Number(expressVersion.split('.')[0]) < 5;
const routerVersion = express4
  ? 'built-in'
  : version(dirname(createRequire(join(expressDir, 'index.js')).resolve('router/package.json')));
type Handler = (req: IncomingMessage, res: ServerResponse, next: () => void) => void;
interface ExpressRouter {
  use(path: string, h: Handler | ExpressRouter): void;
  use(h: Handler): void;
  get(path: string, h: Handler): void;
}
interface ExpressApp extends ExpressRouter {
  post(path: string, h: Handler): void;
}
interface Layer {
  route?: unknown;
  rawPath?: unknown;
  regexp?: RegExp;
  keys?: unknown[];
  params?: unknown;
  path?: unknown;
  match(p: string): unknown;
}
const noop: Handler = (_req, _res, next) => next();
const notNest = (): boolean => false;
const against = `express ${expressVersion}, router ${routerVersion}`;

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
  const layers = (a: ExpressApp): Layer[] => (expressStack(a)?.layers ?? []) as Layer[];

  it(`E1: ${express4 ? 'app._router' : 'app.router'} has the stack of layers, read without throwing (${against})`, () => {
    const a = app();
    const own = express4
      ? (a as { _router?: { stack?: unknown } })._router
      : (a as { router?: { stack?: unknown } }).router;
    expect(Array.isArray(own?.stack)).toBe(true);
    expect(expressStack(a)?.layers).toBe(own?.stack);
    expect(layers(a).length).toBeGreaterThanOrEqual(5);
    // Before any route or middleware: Express 4 has no router yet, and its `app.router` getter throws.
    expect(() => expressStack(express())).not.toThrow();
  });

  it(`E2: a mount's layer has no route, keeps its path as given ${express4 ? 'in a plain regexp without keys' : 'in rawPath'} (${against})`, () => {
    const mount = layers(app()).find(
      (l) =>
        l.route === undefined &&
        (express4 ? l.regexp?.test('/graphql') && !l.regexp.test('/') : l.rawPath === '/graphql'),
    );
    expect(mount).toBeDefined();
    if (express4) {
      expect(mount?.keys).toEqual([]);
      expect(mount?.regexp?.source).toBe('^\\/graphql\\/?(?=\\/|$)');
    }
    const stack = expressStack(app());
    expect(mountTemplate(stack!, '/GRAPHQL', notNest)?.template).toBe('/graphql');
    expect(mountTemplate(stack!, '/assets/v2', notNest)?.template).toBe('/assets/v2');
    expect(mountTemplate(stack!, '/elsewhere', notNest)).toBeUndefined();
  });

  it(`E3: matching a layer stores nothing on it (${express4 ? 'its regexp is run, not match()' : 'match() returns { path, pattern }'}) (${against})`, () => {
    const a = app();
    const mount = layers(a).find(
      (l) =>
        l.route === undefined &&
        (express4 ? l.regexp?.test('/graphql') && !l.regexp.test('/') : l.rawPath === '/graphql'),
    );
    expect(mount).toBeDefined();
    if (express4) {
      // match() writes path and params on the layer, shared by requests in flight: never called; its regexp keeps no state.
      expect(mount?.regexp?.global || mount?.regexp?.sticky).toBe(false);
      const before = { path: mount?.path, params: mount?.params };
      expect(mountTemplate(expressStack(a)!, '/GraphQL', notNest)?.template).toBe('/graphql');
      expect({ path: mount?.path, params: mount?.params }).toEqual(before);
    } else {
      expect(mount?.match('/GraphQL')).toMatchObject({ path: '/GraphQL', pattern: '/graphql' });
      expect('params' in (mount as object)).toBe(false);
    }
  });

  it(`E4: a route's layer has route.path and route.${express4 ? '_handles_method' : '_handlesMethod'}, HEAD where GET is handled (${against})`, () => {
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

  it(`E9: the application calls its own handle for every request, whoever calls it; an own handle replaces it (${against})`, async () => {
    const a = express();
    const answered: string[] = [];
    a.use('/mounted', (req: IncomingMessage, res: ServerResponse) => {
      answered.push(`mounted ${req.url ?? ''}`);
      res.end('m');
    });
    a.use((req: IncomingMessage, res: ServerResponse) => {
      answered.push(`app ${req.url ?? ''}`);
      res.end('a');
    });
    const before: string[] = [];
    const hooked = beforeEveryRequest(a, (req) => before.push(req.url ?? ''));
    const { inject } = jest.requireActual<typeof import('light-my-request')>('light-my-request');
    // light-my-request calls the application function itself, as a serverless wrapper does.
    const bodies = [
      (await inject(a as never, { url: '/x' })).body,
      (await inject(a as never, { url: '/mounted/y' })).body,
    ];
    const ok =
      hooked &&
      JSON.stringify(before) === JSON.stringify(['/x', '/mounted/y']) &&
      JSON.stringify(bodies) === JSON.stringify(['a', 'm']) &&
      JSON.stringify(answered) === JSON.stringify(['app /x', 'mounted /y']);
    if (!ok)
      throw new Error(
        `${against} no longer meets E9 of src/compat/express.ts: hooked ${String(hooked)}, before ${JSON.stringify(before)}, answered ${JSON.stringify(answered)}`,
      );
    expect(beforeEveryRequest({}, () => undefined)).toBe(false);
  });

  it(`E6: req.route is the matched route after the response, its stack[0].handle the first handler registered (${against})`, async () => {
    const a = express();
    const first: Handler = (_req, _res, next) => next();
    const kept: IncomingMessage[] = [];
    const handler: Handler = (req, res) => {
      kept.push(req);
      res.end();
    };
    (a as unknown as { get(path: string, ...handlers: Handler[]): void }).get('/tracks/:id', first, handler);
    a.use((req: IncomingMessage, res: ServerResponse) => {
      kept.push(req);
      res.statusCode = 404;
      res.end();
    });
    const { inject } = jest.requireActual<typeof import('light-my-request')>('light-my-request');
    await inject(a as never, { url: '/tracks/7' });
    await inject(a as never, { url: '/nope' });
    const [routed, unrouted] = kept;
    expect(answeredRoute(routed, undefined)).toBe('/tracks/:id');
    // Nest's 404 route is told by its first handler.
    expect(answeredRoute(routed, first)).toBeUndefined();
    expect(answeredRoute(unrouted, undefined)).toBeUndefined();
  });

  it(`E7: req.route is the matched layer's route object; a mounted router's route keeps baseUrl, and after an error leaves it req.route stays while baseUrl is restored (${against})`, async () => {
    const a = express();
    const users = express.Router();
    const kept: Array<{ req: IncomingMessage; baseUrl: string }> = [];
    users.get('/:id', (req, res) => {
      kept.push({ req, baseUrl: (req as { baseUrl?: string }).baseUrl ?? '' });
      res.end();
    });
    const fail = (_req: unknown, _res: unknown, next: (err: unknown) => void): void =>
      next(new Error('broken'));
    users.get('/:id/broken', fail);
    const admin = express.Router();
    admin.use('/users', users);
    a.use('/admin', admin);
    a.get('/top', noop);
    (
      a as unknown as {
        use(h: (err: unknown, req: IncomingMessage, res: ServerResponse, next: unknown) => void): void;
      }
    ).use((_err, req, res, _next) => {
      kept.push({ req, baseUrl: (req as { baseUrl?: string }).baseUrl ?? '' });
      res.statusCode = 500;
      res.end();
    });
    const { inject } = jest.requireActual<typeof import('light-my-request')>('light-my-request');
    await inject(a as never, { url: '/Admin/users/7' });
    await inject(a as never, { url: '/admin/users/7/broken' });
    const [answered, failed] = kept;
    const stack = expressStack(a)!;
    const usersLayers = (users as unknown as { stack: Layer[] }).stack;
    // Identity: the route found in its router's stack is the one the request kept.
    expect(routeOfRequest(answered.req)).toBe(usersLayers[0].route);
    expect(answeredRoute(answered.req, undefined)).toBe('/:id');
    expect(answered.baseUrl).toBe('/Admin/users');
    expect((answered.req as { baseUrl?: string }).baseUrl).toBe('/Admin/users');
    expect(mountTemplate(stack, '/Admin/users', notNest, routeOfRequest(answered.req))).toEqual({
      template: '/admin/users',
      whole: true,
    });
    // Left by an error: baseUrl restored, req.route still the inner route, found again by the path.
    expect(failed.baseUrl).toBe('');
    expect(routeOfRequest(failed.req)).toBe(usersLayers[1].route);
    expect(mountedTemplate(stack, 'GET', '/admin/users/7/broken', notNest, routeOfRequest(failed.req))).toBe(
      '/admin/users/:id/broken',
    );
    // Without a route (a request refused before its router ran): the route its method and path match.
    expect(mountedTemplate(stack, 'GET', '/admin/users/7', notNest)).toBe('/admin/users/:id');
    expect(mountedTemplate(stack, 'POST', '/admin/users/7', notNest)).toBeUndefined();
    expect(mountedTemplate(stack, 'GET', '/admin/nope/7', notNest)).toBeUndefined();
    // The application's own routes are told from the mounted routers'.
    const own = new AppRoutes();
    expect(own.has(stack, answered.req)).toBe(false);
    expect(
      own.has(stack, { route: (stack.layers as Layer[]).find((l) => l.route !== undefined)?.route }),
    ).toBe(true);
  });

  it(`E7: a handler that is not a router gives its mount's path, never the inner route's alone; a router mounted in itself does not loop (${against})`, () => {
    const a = express();
    const opaque: Handler = (_req, _res, next) => next();
    a.use('/queues', opaque);
    const loop = express.Router();
    loop.use(loop as unknown as Handler);
    a.use('/loop', loop);
    const stack = expressStack(a)!;
    expect(mountTemplate(stack, '/queues', notNest, {})).toEqual({ template: '/queues', whole: true });
    expect(mountTemplate(stack, '/queues/static', notNest, {})).toEqual({
      template: '/queues',
      whole: false,
    });
    expect(mountedTemplate(stack, 'POST', '/queues/api/queues/a/b', notNest)).toBe('/queues');
    expect(mountedTemplate(stack, 'GET', '/loop/x', notNest)).toBeUndefined();
    expect(joinTemplate('/queues', '/')).toBe('/queues');
    expect(joinTemplate('', '/')).toBe('/');
    expect(joinTemplate('/queues', '/api/queues')).toBe('/queues/api/queues');
  });

  it(`E8: a route whose parameter cannot be percent-decoded ${express4 ? 'still matches its regexp' : "makes match() throw the router's URIError with status 400"}, and is labelled with its template (${against})`, async () => {
    const a = app();
    const route = layers(a).find((l) => l.route !== undefined) as Layer;
    if (!express4) {
      let thrown: unknown;
      try {
        route.match('/tracks/%zz');
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(URIError);
      expect((thrown as { status?: unknown }).status).toBe(400);
    }
    expect(routeTemplate(expressStack(a)!, 'GET', '/tracks/%zz', notNest)).toBe('/tracks/:id');
    expect(routeTemplate(expressStack(a)!, 'GET', '/nope/%zz', notNest)).toBeUndefined();
    // The router answers such a request 400.
    const { inject } = jest.requireActual<typeof import('light-my-request')>('light-my-request');
    expect((await inject(a as never, { url: '/tracks/%zz' })).statusCode).toBe(400);
  });
});
