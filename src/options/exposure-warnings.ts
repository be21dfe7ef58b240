import cluster from 'node:cluster';
import { metricsServedNowhere, metricsServedOnBothPorts } from '../veza-metrics.messages';
import { isPlainObject } from './option-checks';
import type { ResolvedOptions } from './resolve-options';

/**
 * What to say at start-up about where `/metrics` is served, when the options leave it surprising:
 * nowhere (`appEndpoint: false` and no other way out), or on the application's port as well as
 * `metricsServer`'s while `appEndpoint` was left unset. `raw` is the options as the application gave
 * them (to tell an unset `appEndpoint` from `true`); `http` says whether the application has an
 * HTTP server; `boundPort` is the port `metricsServer` listens on, once it does.
 */
export function exposureWarnings(
  raw: unknown,
  options: ResolvedOptions<{
    pushgateway?: object | undefined;
    remoteWrite?: object | undefined;
    cluster?: boolean;
  }>,
  http: boolean,
  boundPort?: number,
): string[] {
  const { app, server } = options.endpoint;
  const answersPrimary = options.cluster && cluster.isWorker;
  if (!app && !server && !options.pushgateway && !options.remoteWrite && !answersPrimary)
    return [metricsServedNowhere(options.path)];
  const appEndpointSet = isPlainObject(raw) && raw.appEndpoint !== undefined;
  if (http && app && server && !appEndpointSet)
    return [metricsServedOnBothPorts(options.path, boundPort ?? server.port)];
  return [];
}
