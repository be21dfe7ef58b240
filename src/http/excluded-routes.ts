import { Logger, RequestMethod, type Type } from '@nestjs/common';
import type { ApplicationConfig, ModulesContainer } from '@nestjs/core';
import { nestCoreVersion, nestRouter, type NestRouter, type VersionValue } from '../compat/nest-core';
import { noMetricsNotResolved } from '../veza-metrics.messages';
import { NO_METRICS } from './no-metrics.decorator';

/** Routes left out of the HTTP metrics: by template for every method, or by method and template. */
export interface ExcludedRoutes {
  /** Templates excluded whatever the method (`http.exclude`, `@All()` handlers). */
  readonly paths: Set<string>;
  /** `METHOD template` pairs (`GET /api/v1/health`). */
  readonly routes: Set<string>;
}

interface AdapterLike {
  normalizePath?(path: string): string;
}

const addLeadingSlash = (path: string): string =>
  path.startsWith('/') || path.startsWith('{/') ? path : `/${path}`;
const asArray = (value: string | string[] | undefined): string[] =>
  value === undefined ? [''] : Array.isArray(value) ? value : [value];

/**
 * Resolves every handler marked `@NoMetrics()` (or on a controller marked so) to the route templates
 * the router registers for it, the way Nest's own `RoutesResolver` and `RouterExplorer` build them:
 * module path (`RouterModule`), controller path, handler path, URI version and global prefix (with
 * its exclusions) through Nest's `RoutePathFactory`, then the adapter's path normalization.
 */
export function resolveExcludedRoutes(
  modules: ModulesContainer,
  config: ApplicationConfig,
  adapter: AdapterLike,
  into: ExcludedRoutes,
): void {
  const router = routerOnce();
  if (router === undefined) return;
  const prefix = config.getGlobalPrefix();
  const globalPrefix = prefix ? addLeadingSlash(prefix) : '';
  const versioningOptions = config.getVersioning();

  for (const module of modules.values()) {
    const metatype = module.metatype as Type | undefined;
    const modulePath = metatype ? router.modulePath(modules, metatype) : undefined;
    for (const wrapper of module.controllers.values()) {
      const controller = wrapper.metatype as Type | undefined;
      if (!controller || typeof controller !== 'function') continue;
      const wholeController = Reflect.getMetadata(NO_METRICS, controller) === true;
      const controllerVersion: VersionValue | undefined = versioningOptions
        ? (router.controllerVersion(controller) ?? versioningOptions.defaultVersion)
        : undefined;
      const ctrlPaths = asArray(router.controllerPath(controller)).map(addLeadingSlash);
      const prototype = controller.prototype as Record<string, unknown>;
      for (const route of router.routesOf(wrapper.instance ?? prototype, prototype)) {
        const own = prototype[route.methodName];
        const marked =
          wholeController || (typeof own === 'function' && Reflect.getMetadata(NO_METRICS, own) === true);
        if (!marked) continue;
        for (const ctrlPath of ctrlPaths) {
          for (const methodPath of route.path) {
            const paths = router.paths(
              config,
              {
                ctrlPath,
                methodPath,
                modulePath,
                globalPrefix,
                controllerVersion,
                methodVersion: route.version,
                versioningOptions,
              },
              route.requestMethod,
            );
            for (const path of paths)
              add(into, route.requestMethod, adapter.normalizePath ? adapter.normalizePath(path) : path);
          }
        }
      }
    }
  }
}

let loaded: NestRouter | undefined | null = null;

/** Nest's router internals (assumption N6 of src/compat/nest-core.ts), loaded once; a miss is logged once. */
function routerOnce(): NestRouter | undefined {
  if (loaded === null) {
    loaded = nestRouter();
    if (loaded === undefined) new Logger('VezaMetrics').warn(noMetricsNotResolved(nestCoreVersion()));
  }
  return loaded;
}

function add(into: ExcludedRoutes, method: RequestMethod, path: string): void {
  if (method === RequestMethod.ALL) {
    into.paths.add(path);
    return;
  }
  const name = RequestMethod[method];
  into.routes.add(`${name} ${path}`);
  // Both adapters answer HEAD with the GET handler.
  if (method === RequestMethod.GET) into.routes.add(`HEAD ${path}`);
}
