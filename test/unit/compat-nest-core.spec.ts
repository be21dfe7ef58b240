/**
 * Contract tests of src/compat/nest-core.ts: each assumption (N1-N6) it makes of @nestjs/core and
 * @nestjs/common, by its name, against the installed version, on real Nest applications. A failure
 * says which assumption broke and on which version; the fallbacks are checked on a Nest whose
 * internals moved (a loader that cannot find them).
 */
import {
  Controller,
  Get,
  Injectable,
  Module,
  NotFoundException,
  RequestMethod,
  Scope,
  Version,
  VersioningType,
  type INestApplication,
} from '@nestjs/common';
import { ApplicationConfig, LazyModuleLoader, ModulesContainer, NestFactory } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import {
  followLazyLoads,
  hookFutureInstances,
  isSingleton,
  nestCoreVersion,
  nestRouter,
  onIoAdapter,
  staticTransientInstances,
  wrapExceptionsHandler,
  wrappersOf,
  type WrapperLike,
} from '../../src/compat/nest-core';

/** Fails with the assumption's name and the installed @nestjs/core's version. */
function holds(assumption: string, ok: boolean, detail: string): void {
  if (!ok)
    throw new Error(
      `${nestCoreVersion()} no longer meets ${assumption} of src/compat/nest-core.ts: ${detail}`,
    );
}

const moved = (id: string): never => {
  throw Object.assign(new Error(`Cannot find module '${id}'`), { code: 'MODULE_NOT_FOUND' });
};

jest.setTimeout(60_000);

@Injectable()
class Singleton {}

@Injectable({ scope: Scope.REQUEST })
class PerRequest {
  readonly id = Math.random();
}

@Injectable({ scope: Scope.TRANSIENT })
class Transient {}

@Injectable()
class NeedsTransient {
  constructor(readonly transient: Transient) {}
}

@Controller({ path: 'tracks', version: '2' })
class Tracks {
  constructor(private readonly perRequest: PerRequest) {}

  @Get(':id')
  one(): number {
    return this.perRequest.id;
  }

  @Version('3')
  @Get()
  all(): never {
    throw new NotFoundException('none');
  }
}

@Module({ providers: [Singleton, PerRequest, Transient, NeedsTransient], controllers: [Tracks] })
class AppModule {}

@Injectable()
class LazyService {}

@Module({ providers: [LazyService] })
class LazyModule {}

async function start(): Promise<{ app: INestApplication; url: string }> {
  const app = await NestFactory.create(AppModule, { logger: false });
  app.setGlobalPrefix('api');
  app.enableVersioning({ type: VersioningType.URI });
  await app.listen(0, '127.0.0.1');
  return { app, url: (await app.getUrl()).replace('[::1]', '127.0.0.1') };
}

describe(`src/compat/nest-core.ts: what we assume of Nest's core (${nestCoreVersion()})`, () => {
  it('N1: ExceptionsHandler#next receives the exception of an HTTP request with the request first, before the filters', async () => {
    const seen: Array<[unknown, object]> = [];
    const wrapped = wrapExceptionsHandler((exception, request) => seen.push([exception, request]));
    holds('N1', wrapped, '@nestjs/core/exceptions/exceptions-handler.js has no ExceptionsHandler#next');
    const { app, url } = await start();
    try {
      const response = await fetch(`${url}/api/v3/tracks`);
      expect(response.status).toBe(404);
      const mine = seen.filter(([e]) => e instanceof NotFoundException && e.message === 'none');
      holds(
        'N1',
        mine.length === 1,
        `the handler saw ${mine.length} NotFoundException('none') for one request`,
      );
      const request = mine[0][1] as { url?: unknown; method?: unknown };
      holds(
        'N1',
        request.url === '/api/v3/tracks' && request.method === 'GET',
        "the host's first argument is not the request",
      );
    } finally {
      await app.close();
    }
  });

  it('N1 fallback: when the handler cannot be found, nothing is wrapped and the caller is told', () => {
    expect(wrapExceptionsHandler(() => undefined, moved)).toBe(false);
    expect(
      wrapExceptionsHandler(
        () => undefined,
        () => ({ ExceptionsHandler: { prototype: {} } }),
      ),
    ).toBe(false);
  });

  it('N2: modules keep providers, controllers and enhancers as wrappers with instance, isTransient, isDependencyTreeStatic, getStaticTransientInstances', async () => {
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    try {
      const wrappers = [...moduleRef.get(ModulesContainer).values()].flatMap((m) => wrappersOf(m));
      const of = (type: unknown): WrapperLike | undefined => wrappers.find((w) => w.metatype === type);
      const singleton = of(Singleton);
      holds('N2', singleton !== undefined, 'a provider has no wrapper with its metatype in module.providers');
      holds('N2', singleton?.instance instanceof Singleton, "a singleton's wrapper has no `instance`");
      holds('N2', typeof singleton?.isDependencyTreeStatic === 'function', 'no isDependencyTreeStatic()');
      expect(isSingleton(singleton!)).toBe(true);
      holds('N2', of(Tracks) !== undefined, 'controllers are not in module.controllers');
      const perRequest = of(PerRequest)!;
      holds(
        'N2',
        perRequest.isDependencyTreeStatic?.() === false,
        'a request-scoped wrapper says its tree is static',
      );
      expect(isSingleton(perRequest)).toBe(false);
      expect(isSingleton(of(Tracks)!)).toBe(false);
      const transient = of(Transient)!;
      holds('N2', transient.isTransient === true, 'a transient wrapper has no isTransient');
      holds(
        'N2',
        typeof transient.getStaticTransientInstances === 'function',
        'no getStaticTransientInstances()',
      );
      const instances = staticTransientInstances(transient);
      holds(
        'N2',
        instances.some((i) => i === moduleRef.get(NeedsTransient).transient),
        'the transient instance injected at bootstrap is not among getStaticTransientInstances()',
      );
    } finally {
      await moduleRef.close();
    }
  });

  it('N3: setInstanceByContextId stores each request-scoped host before Nest puts the instance in it', async () => {
    const { app, url } = await start();
    try {
      const wrapper = [...app.get(ModulesContainer).values()]
        .flatMap((m) => wrappersOf(m))
        .find((w) => w.metatype === PerRequest)!;
      const bound: object[] = [];
      const undo = hookFutureInstances(wrapper, (instance) => bound.push(instance));
      holds(
        'N3',
        undo !== undefined,
        'InstanceWrapper has no setInstanceByContextId / setInstanceByInquirerId',
      );
      const answers = [
        await (await fetch(`${url}/api/v2/tracks/1`)).text(),
        await (await fetch(`${url}/api/v2/tracks/2`)).text(),
      ];
      // Nest stores a placeholder (the prototype's object) in the host, then the constructed instance.
      const ids = new Set(bound.map((b) => String((b as PerRequest).id)));
      holds(
        'N3',
        bound.every((b) => b instanceof PerRequest) && ids.has(answers[0]) && ids.has(answers[1]),
        `the instances that answered (${answers.join(', ')}) were not among those stored (${[...ids].join(', ')})`,
      );
      const count = bound.length;
      undo!();
      await fetch(`${url}/api/v2/tracks/3`);
      expect(bound).toHaveLength(count);
    } finally {
      await app.close();
    }
  });

  it('N3 fallback: a wrapper without the methods is left alone, and the caller is told', () => {
    expect(hookFutureInstances({ instance: undefined }, () => undefined)).toBeUndefined();
  });

  it("N4: LazyModuleLoader#load resolves once the loaded module's instances exist", async () => {
    const { app } = await start();
    try {
      const loader = app.get(LazyModuleLoader);
      const containers = app.get(ModulesContainer);
      const seen: boolean[] = [];
      const undo = followLazyLoads(loader, () => {
        const lazy = [...containers.values()]
          .flatMap((m) => wrappersOf(m))
          .find((w) => w.metatype === LazyService);
        seen.push(lazy?.instance instanceof LazyService);
      });
      holds('N4', undo !== undefined, 'LazyModuleLoader has no load()');
      const loaded = await loader.load(() => LazyModule);
      holds(
        'N4',
        seen.length === 1 && seen[0] === true,
        `after load(), the lazy instance was found: ${JSON.stringify(seen)}`,
      );
      expect(loaded.get(LazyService)).toBeInstanceOf(LazyService);
      undo!();
      expect(Object.prototype.hasOwnProperty.call(loader, 'load')).toBe(false);
    } finally {
      await app.close();
    }
  });

  it('N4 fallback: no loader, or one without load(), is not followed', () => {
    expect(followLazyLoads(undefined, () => undefined)).toBeUndefined();
    expect(followLazyLoads({} as LazyModuleLoader, () => undefined)).toBeUndefined();
  });

  it('N5: ApplicationConfig#getIoAdapter is how the adapter is handed out', () => {
    const config = new ApplicationConfig();
    const adapter = { name: 'io' };
    config.setIoAdapter(adapter as never);
    const seen: object[] = [];
    holds(
      'N5',
      onIoAdapter(config, (a) => seen.push(a)),
      'ApplicationConfig has no getIoAdapter()',
    );
    expect(config.getIoAdapter()).toBe(adapter);
    expect(seen).toEqual([adapter]);
    expect(onIoAdapter({} as ApplicationConfig, () => undefined)).toBe(false);
  });

  it("N6: the router's RoutePathFactory, PathsExplorer and metadata keys give a handler's templates", async () => {
    const router = nestRouter();
    holds(
      'N6',
      router !== undefined,
      'RoutePathFactory, PathsExplorer or the metadata keys could not be loaded',
    );
    const { app } = await start();
    try {
      const config = app.get(ApplicationConfig);
      const prototype = Tracks.prototype as object;
      const routes = router!.routesOf(prototype, prototype);
      holds(
        'N6',
        routes.some(
          (r) => r.methodName === 'one' && r.requestMethod === RequestMethod.GET && r.path.includes('/:id'),
        ),
        `scanForPaths gave ${JSON.stringify(routes)}`,
      );
      expect(router!.controllerPath(Tracks)).toBe('tracks');
      expect(router!.controllerVersion(Tracks)).toBe('2');
      const all = routes.find((r) => r.methodName === 'all')!;
      expect(all.version).toBe('3');
      const paths = router!.paths(
        config,
        {
          ctrlPath: '/tracks',
          methodPath: '/',
          globalPrefix: '/api',
          controllerVersion: '2',
          methodVersion: all.version,
          versioningOptions: config.getVersioning(),
        },
        RequestMethod.GET,
      );
      holds('N6', paths.includes('/api/v3/tracks'), `RoutePathFactory#create gave ${JSON.stringify(paths)}`);
      expect(router!.modulePath(app.get(ModulesContainer), AppModule)).toBeUndefined();
    } finally {
      await app.close();
    }
  });

  it('N6 fallback: a Nest whose router files moved gives no router', () => {
    expect(nestRouter(moved)).toBeUndefined();
  });
});
