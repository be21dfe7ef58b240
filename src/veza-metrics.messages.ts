/** Every user-facing string of the library, as functions of their context. */

export const OPTION_ERROR_PREFIX = 'VezaMetricsModule:';

/** The message of an error, or a bounded description of whatever else was thrown. */
export const errorText = (error: unknown): string =>
  error instanceof Error ? error.message : typeof error === 'string' ? error : describe(error);

export const unknownOption = (key: string, known: readonly string[]): string =>
  `${OPTION_ERROR_PREFIX} unknown option "${key}"; expected one of ${known.join(', ')}.`;

export const invalidOption = (option: string, expected: string, got: unknown): string =>
  `${OPTION_ERROR_PREFIX} option "${option}" must be ${expected}, got ${describe(got)}.`;

export const invalidLabelName = (option: string, name: string): string =>
  `${OPTION_ERROR_PREFIX} option "${option}" must have Prometheus label names as keys (letters, digits and _, not starting with a digit or __), got the key ${JSON.stringify(name)}.`;

export const metricClash = (name: string, ours: string, theirs: string): string =>
  `${OPTION_ERROR_PREFIX} metric "${name}" is already registered as ${theirs}, but the Veza catalog defines it as ${ours}; ` +
  `remove or rename the other definition (the catalog's names, types and labels are fixed).`;

export const duplicateCatalogMetric = (name: string, theirs: string): string =>
  `${OPTION_ERROR_PREFIX} metric "${name}" is declared by the application (${theirs}) and by the Veza catalog; ` +
  `remove the application's declaration and inject the catalog's metric with @InjectMetric('${name}').`;

export const metricsServed = (path: string): string => `Serving Prometheus metrics at ${path}`;

export const scrapeFailed = (error: unknown): string => `Rendering the metrics failed: ${errorText(error)}`;

export const recordingFailed = (where: string, error: unknown): string =>
  `Recording metrics in ${where} failed and was skipped: ${errorText(error)}`;

/** An indicator of a terminus health check threw something that names no key (logged once per application). */
export const healthKeyUnknown = (thrown: string): string =>
  `A health indicator threw ${thrown}, which names no key (a HealthCheckError's causes, or a result ` +
  `such as { storage: { status: 'down' } }): it is not recorded in veza_health_check_status. ` +
  `Return terminus' down() result instead (docs/health.md#what-is-recorded).`;

/** A short, bounded description of a value for error messages. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array (${truncate(JSON.stringify(value))})`;
  if (typeof value === 'string') return `the string ${truncate(JSON.stringify(value))}`;
  if (typeof value === 'object') return describeObject(value);
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return `symbol ${truncate(value.description ?? '')}`;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return `${typeof value} ${String(value)}`;
  return 'undefined';
}

/** An object: plain (any realm), or an instance of its class, named (options take plain objects only). */
function describeObject(value: object): string {
  const json = truncate(safeJson(value));
  try {
    const prototype: unknown = Object.getPrototypeOf(value);
    if (prototype === null || Object.getPrototypeOf(prototype) === null) return `an object (${json})`;
    const name = (
      Object.getOwnPropertyDescriptor(prototype, 'constructor')?.value as { name?: unknown } | undefined
    )?.name;
    return typeof name === 'string' && name !== ''
      ? `an instance of ${name} (${json})`
      : `an instance of an anonymous class (${json})`;
  } catch {
    return `an object (${json})`;
  }
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

function truncate(text: string): string {
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

export const collectorFailed = (metric: string, reason: 'error' | 'timeout', error: unknown): string =>
  reason === 'timeout'
    ? `The scrape-time source of "${metric}" did not answer in time; the metric is left out of this scrape.`
    : `The scrape-time source of "${metric}" failed (${errorText(error)}); the metric is left out of this scrape.`;

export const gaugeSourceFailed = (place: string, metric: string, error: unknown): string =>
  `@GaugeSource on "${place}" failed (${errorText(error)}); its series of "${metric}" is left out of the scrape until it answers a finite number again (logged once, counted in veza_metrics_collect_failures_total).`;

export const metricsServerListening = (host: string, port: number, path: string): string =>
  `Serving Prometheus metrics on their own listener at http://${host.includes(':') ? `[${host}]` : host}:${port}${path}`;

export const metricsServerFailed = (host: string, port: number, error: unknown): string =>
  `${OPTION_ERROR_PREFIX} option "metricsServer" could not listen on ${host}:${port} (${errorText(error)}); choose a free port.`;

// Pushgateway (option `pushgateway`).

/** Why a push to the Pushgateway failed: the `reason` label of `veza_metrics_push_failures_total`. */
export type PushFailureReason = 'unreachable' | 'timeout' | 'rejected' | 'render';

export const pushFailed = (target: string, reason: PushFailureReason, detail: string): string => {
  const what = {
    unreachable: 'the Pushgateway could not be reached',
    timeout: 'the Pushgateway did not answer in time',
    rejected: 'the Pushgateway rejected the metrics',
    render: 'rendering the metrics failed',
  }[reason];
  return `Pushing metrics to ${target} failed: ${what} (${detail}). Failures of this kind are counted in veza_metrics_push_failures_total{reason="${reason}"} and not logged again until a push succeeds.`;
};

export const pushRecovered = (target: string): string => `Pushing metrics to ${target} works again.`;

// Remote write (option `remoteWrite`).

/** Why a remote-write send failed or did not happen: the `reason` label of `veza_metrics_remote_write_failures_total`. */
export type RemoteWriteFailureReason =
  'unreachable' | 'timeout' | 'rejected' | 'unavailable' | 'render' | 'skipped';

export const remoteWriteFailed = (
  target: string,
  reason: RemoteWriteFailureReason,
  detail: string,
): string => {
  const what = {
    unreachable: 'the receiver could not be reached',
    timeout: 'the receiver did not answer in time',
    rejected: 'the receiver refused the samples (not retried)',
    unavailable: 'the receiver is unavailable or throttling (the next interval sends again)',
    render: 'encoding the samples failed',
    skipped: 'the previous send was still on its way',
  }[reason];
  return `Remote write to ${target} failed: ${what} (${detail}). Failures of this kind are counted in veza_metrics_remote_write_failures_total{reason="${reason}"} and not logged again until a send succeeds.`;
};

export const remoteWriteRecovered = (target: string): string => `Remote write to ${target} works again.`;

// Node cluster (ClusterMetricsAggregator, serveClusterMetrics).

export const CLUSTER_ERROR_PREFIX = 'VezaMetrics cluster:';

export const invalidClusterOption = (option: string, expected: string, got: unknown): string =>
  `${CLUSTER_ERROR_PREFIX} option "${option}" must be ${expected}, got ${describe(got)}.`;

export const unknownClusterOption = (key: string, known: readonly string[]): string =>
  `${CLUSTER_ERROR_PREFIX} unknown option "${key}"; expected one of ${known.join(', ')}.`;

export const clusterNotPrimary = (): string =>
  `${CLUSTER_ERROR_PREFIX} ClusterMetricsAggregator aggregates the workers' metrics and runs in the cluster's primary process; in a worker, VezaMetricsModule answers the primary by itself (option "cluster").`;

export const clusterWorkerTimedOut = (
  workerId: number,
  slot: number,
  pid: number | undefined,
  timeoutMs: number,
): string =>
  `Cluster worker ${workerId} (slot ${slot}, pid ${pid ?? '?'}) did not send its metrics within ${timeoutMs} ms; its last answer is used. Counted in veza_metrics_cluster_worker_timeouts_total and shown as veza_metrics_cluster_worker_up{worker="${slot}"} 0, not logged again.`;

export const clusterWorkerFailed = (workerId: number, error: string): string =>
  `Cluster worker ${workerId} could not send its metrics (${error}); its last answer is used. Counted in veza_metrics_cluster_worker_errors_total, not logged again.`;

export const clusterNativeDropped = (workerId: number, dropped: number): string =>
  `Cluster worker ${workerId} sent ${dropped} malformed native histogram part(s) (a schema outside -4..8, counts that are not integers >= 0 or disagree with the series' count, spans and deltas that disagree or span more than the buckets accepted): those series are served with their classic buckets only. Counted in veza_metrics_cluster_worker_errors_total, not logged again.`;

export const clusterRetiredDropped = (workerId: number, dropped: number, max: number): string =>
  `Cluster worker ${workerId} exited with counter and histogram series that no longer fit in the ${max} samples kept for exited workers: ${dropped} of them are left out of the sum (they go stale in Prometheus; per-process label values such as a pid multiply series on every restart). Not logged again.`;

// pm2's cluster mode (option `pm2`).

export const pm2DirectoryUnsafe = (dir: string, kind: string, owner: number, uid: number): string =>
  `VezaMetrics pm2: the directory "${dir}" (option "pm2.directory") is a ${kind} owned by uid ${owner} and must be a directory of uid ${uid} that no one else may write to (mode 0700): what is in it is summed into every scrape. Remove it, or set "pm2.directory" to a directory of your own.`;

export const pm2DirectoryFailed = (dir: string, error: unknown): string =>
  `VezaMetrics pm2: cannot use the directory "${dir}" (option "pm2.directory"): ${errorText(error)}. Each instance then answers /metrics with its own metrics only; set "pm2.directory" to a writable directory, or "pm2: false".`;

export const pm2PeerTimedOut = (instance: string, pid: number, timeoutMs: number): string =>
  `pm2 instance ${instance} (pid ${pid}) did not send its metrics within ${timeoutMs} ms; its last answer is used. Counted in veza_metrics_pm2_worker_timeouts_total and shown as veza_metrics_pm2_worker_up{pm2_instance="${instance}"} 0, not logged again.`;

export const pm2PeerFailed = (instance: string, pid: number, error: string): string =>
  `pm2 instance ${instance} (pid ${pid}) could not send its metrics (${error}); its last answer is used. Counted in veza_metrics_pm2_worker_errors_total, not logged again.`;

export const pm2RetiredFailed = (stem: string, error: string): string =>
  `The state of the exited pm2 instance ${stem} could not be read (${error}): its counters are left out of the sum (they go stale in Prometheus). Counted in veza_metrics_pm2_worker_errors_total, not logged again.`;

export const pm2TooManyPeers = (dir: string, max: number): string =>
  `The pm2 directory "${dir}" holds more than ${max} instances; only ${max} are asked. Not logged again.`;

export const pm2DiskFailed = (dir: string, error: string): string =>
  `The pm2 directory "${dir}" could not be read or written (${error}): exited instances are folded at a later scrape, the sum is served with what is known. Counted in veza_metrics_pm2_worker_errors_total, not logged again.`;

export const pm2LockTimedOut = (dir: string): string =>
  `The lock of the pm2 directory "${dir}" (retired.lock) was held past the scrape's wait: exited instances are folded at a later scrape. Counted in veza_metrics_pm2_worker_errors_total, not logged again.`;

/** A message of the module's endpoint options (`metricsServer`, `auth`, `scrape`), said of `serveClusterMetrics`' options of the same shape. */
export const asClusterOptionMessage = (message: string): string =>
  message
    .replace(OPTION_ERROR_PREFIX, CLUSTER_ERROR_PREFIX)
    .replace('"metricsServer.', '"')
    .replace('"metricsServer"', '"port"');

// Testing helpers (@veza/nestjs-metrics/testing).

export const testingNoMetricsModule = (helper: string): string =>
  `${helper}: the application has no VezaMetricsRegistry; import VezaMetricsModule.forRoot() in the module under test.`;

export const testingUnknownMetric = (helper: string, name: string): string =>
  `${helper}: no metric named "${name}" is registered in the application's registry (nor in prom-client's global registry).`;

export const testingUnknownLabel = (
  helper: string,
  name: string,
  label: string,
  known: readonly string[],
): string =>
  `${helper}: metric "${name}" has no label "${label}"; its labels are ${known.length > 0 ? known.join(', ') : '(none)'}.`;

export const testingInvalidSelector = (helper: string, name: string, type: string, problem: string): string =>
  `${helper}: "${name}" is a ${type}; ${problem}.`;

export const testingNoExpect = (): string =>
  'setupMetricsMatchers: no global expect() was found; pass it explicitly: setupMetricsMatchers(expect).';

// Decorators (src/decorators, src/instrumentation). Each says what is wrong, where, and how to fix it.

const on = (decorator: string, place: string): string => `${decorator} on "${place}"`;

export const decoratorOnNonMethod = (decorator: string, place: string): string =>
  `${on(decorator, place)}: "${place}" is not a method; put ${decorator} on a method of a provider or controller.`;

export const decoratorOnStaticMethod = (decorator: string, place: string): string =>
  `${on(decorator, place)}: "${place}" is a static method, which no Nest instance owns; put ${decorator} on an instance method.`;

export const standardDecoratorsUnsupported = (decorator: string): string =>
  `${decorator} was applied as a TC39 standard decorator; Nest needs "experimentalDecorators": true in tsconfig.json.`;

export const decoratorAppliedTwice = (decorator: string, place: string): string =>
  `${on(decorator, place)}: the method already has this decorator, so each call would be recorded twice; remove one of them.`;

export const invalidDecoratorOption = (
  decorator: string,
  place: string,
  option: string,
  expected: string,
  got: unknown,
): string => `${on(decorator, place)}: "${option}" must be ${expected}, got ${describe(got)}.`;

export const unknownDecoratorOption = (
  decorator: string,
  place: string,
  key: string,
  known: readonly string[],
): string => `${on(decorator, place)}: unknown option "${key}"; expected one of ${known.join(', ')}.`;

export const unknownCatalogMetric = (decorator: string, place: string, metric: string): string =>
  `${on(decorator, place)}: "${metric}" is not a Veza catalog metric; use a name from VezaMetric (e.g. VezaMetric.ActiveUsers).`;

export const gaugeSourceNotAGauge = (
  decorator: string,
  place: string,
  metric: string,
  kind: string,
): string =>
  `${on(decorator, place)}: "${metric}" is a ${kind}, and only a gauge can be read at scrape time; use the decorator that records it.`;

export const wrongLabelNames = (
  decorator: string,
  place: string,
  given: readonly string[],
  expected: readonly string[],
): string =>
  `${on(decorator, place)}: labels {${given.join(', ')}} do not match the metric's label names {${expected.join(', ')}}; ` +
  `give a string value for each of them, and nothing else.`;

export const appMetricIsCatalogMetric = (decorator: string, place: string, name: string): string =>
  `${on(decorator, place)}: "${name}" is a Veza catalog metric, which the module already registers; ` +
  `use its own decorator (see the README's table) or choose another name.`;

export const appMetricLabelsRequired = (
  decorator: string,
  place: string,
  labelNames: readonly string[],
): string =>
  `${on(decorator, place)}: the metric has label names {${labelNames.join(', ')}} but no "labels"; ` +
  `give fixed values or a function of the call.`;

export const appMetricClash = (where: string, name: string, ours: string, theirs: string): string =>
  `${where}: metric "${name}" (${ours}) is already registered by other code as ${theirs}; ` +
  `rename one of them (the decorator creates its own metric).`;

export const appMetricConflict = (
  name: string,
  firstWhere: string,
  first: string,
  secondWhere: string,
  second: string,
): string =>
  `Metric "${name}" is declared as ${first} by ${firstWhere} and as ${second} by ${secondWhere}; ` +
  `give both the same definition, or different names.`;

export const gaugeSourceTwice = (
  metric: string,
  labels: Readonly<Record<string, string>>,
  first: string,
  second: string,
): string =>
  `@GaugeSource: "${metric}"${Object.keys(labels).length ? ` ${JSON.stringify(labels)}` : ''} is read from both "${first}" and "${second}"; ` +
  `keep one source per series.`;

export const gaugeSourceAndSteps = (metric: string, sourcePlace: string, stepper: string): string =>
  `@GaugeSource on "${sourcePlace}" sets "${metric}" at each scrape, and ${stepper} moves it up and down: one would undo the other; ` +
  `keep only one of them.`;

export const gaugeSourceNotSingleton = (place: string): string =>
  `@GaugeSource on "${place}": the provider is request-scoped or transient, and a scrape belongs to no request; ` +
  `move the method to a singleton provider.`;

export const instrumentationSetupFailed = (decorator: string, place: string, error: unknown): string =>
  `${on(decorator, place)} could not be set up: ${errorText(error)}`;

export const instrumentationProblem = (decorator: string, place: string, error: unknown): string =>
  `@${decorator} on "${place}" could not record this call (the call itself was not affected; logged once, counted in ` +
  `veza_metrics_instrumentation_errors_total): ${errorText(error)}`;

export const instrumentationNotice = (decorator: string, place: string, error: unknown): string =>
  `@${decorator} on "${place}" recorded its calls, but ${errorText(error)} (logged once, counted in ` +
  `veza_metrics_instrumentation_errors_total)`;

export const untrackedReturn = (place: string, what: string): string =>
  `"${place}" returned ${what}: its outcome is not recorded (logged once); return a Promise (an async method) instead.`;

export const scopedInstancesNotMeasured = (places: readonly string[]): string =>
  `This Nest version does not let request-scoped or transient instances be followed: calls of ${places.join(', ')} on them are not recorded.`;

export const lazyModuleNotMeasured = (error: unknown): string =>
  `A lazily loaded module could not be instrumented, so its decorated methods are not recorded: ${error instanceof Error ? error.message : String(error)}`;

export const instanceNotExtensible = (places: readonly string[]): string =>
  `An instance with ${places.join(', ')} is frozen (not extensible), so its calls cannot be followed and are not recorded; do not freeze providers.`;

export const labelNotString = (label: string, value: unknown): string =>
  `label "${label}" must be a string, got ${describe(value)}`;

export const labelsBeyondNames = (
  given: readonly string[],
  more: number,
  expected: readonly string[],
): string =>
  `its label function returned {${given.join(', ')}${more > 0 ? `, ... ${more} more` : ''}}, names beyond the label names {${expected.join(', ')}}: only those are read, the others are ignored`;

export const notANumber = (what: string, value: unknown, nonNegative = true): string =>
  `${what} must be a finite number${nonNegative ? ' >= 0' : ''}, got ${describe(value)}`;

export const seriesOverflow = (metric: string, cap: number): string =>
  `Metric "${metric}" reached its cap of ${cap} label sets; new ones are folded into its __overflow__ series (raise cardinality.perMetric["${metric}"] if this is expected).`;

export const recordingRefused = (metric: string, error: unknown): string =>
  `A recording into "${metric}" was refused and skipped: ${errorText(error)}.`;

// Series guard: recordings folded into the overflow series for another reason than the cap.

export const ambiguousLabelSet = (metric: string, client = 'prom-client'): string =>
  `A recording into "${metric}" has label values (${client === 'prom-client' ? 'holding "," and "name:"' : 'holding "|", or empty where another is missing'}) that ${client} would merge with another label set's series: it is folded into the __overflow__ series and counted in veza_metrics_series_overflow_total (logged once).`;

// Default metrics: the client's event-loop monitor and GC observer.
export const defaultMonitorsShared = (
  monitors: number,
  observers: number,
  version: string,
  client = 'prom-client',
): string =>
  `${client} ${version} started ${monitors} event-loop monitor(s) and ${observers} GC observer(s) where 1 and 1 were expected (see src/compat/${client === 'prom-client' ? 'prom-client' : 'prometheus-io-client'}.ts): they cannot be stopped on close, so one set is shared by every application of this process instead.`;

// The Prometheus client (src/compat/metrics-client.ts).
export const noPrometheusClient = (): string =>
  `${OPTION_ERROR_PREFIX} no Prometheus client is installed: install prom-client (^15) or @prometheus-io/client (^0.16), e.g. npm install prom-client.`;

export const successorNeedsNode22 = (nodeVersion: string, version: string): string =>
  `${OPTION_ERROR_PREFIX} @prometheus-io/client ${version} needs Node 22 or newer (it uses the iterator helpers of Node 22, which Node ${nodeVersion} lacks: its cluster shutdown and aggregation would throw); ` +
  `run on Node 22 or 24, or install prom-client (^15) instead.`;

export const clientNotLoadable = (client: string): string =>
  `${OPTION_ERROR_PREFIX} option "registry" is a Registry of ${client}, which this library cannot load from where it is installed: install ${client} in the application (npm install ${client}).`;

export const fastPathOff = (what: string, clients: string): string =>
  `${what}: recorded and rendered through the client's public API instead (exact, slower; ${clients}; see docs/internals.md, logged once).`;

// Where /metrics is served.
export const metricsServedNowhere = (path: string): string =>
  `appEndpoint is false and none of metricsServer, pushgateway and remoteWrite is set: "${path}" is served nowhere and nothing pushes the metrics. ` +
  `Set metricsServer: { port: 9464 } (a listener of its own), pushgateway, or appEndpoint: true (ignore this line if your own code renders VezaMetricsRegistry).`;

export const metricsServedOnBothPorts = (path: string, port: number): string =>
  `"${path}" is served on the application's port and on metricsServer's port ${port}. Set appEndpoint: false to keep it off the application's port, or appEndpoint: true to keep both and silence this line.`;

// Microservices (src/rpc/).
export const rpcNeedsNewerNest = (): string =>
  `Microservice handlers are not recorded: this @nestjs/core (Nest 10) has no ModulesContainer#getRpcTargetRegistry (Nest 11 and later have it), the one place servers can be found before their handlers are registered. Upgrade to Nest 11, or set rpc: false to silence this.`;

export const rpcServerNotInstrumented = (transport: string): string =>
  `The microservice server of transport "${transport}" does not keep its handlers the way src/compat/nest-microservices.ts expects (messageHandlers, addHandler): its messages are not recorded (logged once).`;

// Nest's internals behind src/compat/nest-core.ts, nest-websockets.ts, nest-throttler.ts (each logged once).
export const noMetricsNotResolved = (nest: string): string =>
  `${nest}: Nest's router internals (RoutePathFactory, PathsExplorer, the route metadata keys; assumption N6 of src/compat/nest-core.ts) could not be loaded, so routes marked @NoMetrics() are recorded like any other. List their templates in http.exclude instead, or use a Nest version the library supports (10 to 12).`;

export const exceptionClassNotCaptured = (nest: string): string =>
  `${nest}: ExceptionsHandler#next (assumption N1 of src/compat/nest-core.ts) could not be wrapped, so veza_errors_total counts HTTP errors with type "<none>", as for an error response no exception caused, not with the exception's class. Use a Nest version the library supports (10 to 12).`;

export const lazyModulesNotFollowed = (nest: string): string =>
  `${nest}: LazyModuleLoader has no load() method (assumption N4 of src/compat/nest-core.ts), so decorated methods of lazily loaded modules are not recorded. Use a Nest version the library supports (10 to 12).`;

export const wsConnectionsNotCounted = (nest: string): string =>
  `${nest}: ApplicationConfig has no getIoAdapter() (assumption N5 of src/compat/nest-core.ts), so veza_websocket_connections_active is not counted. Use a Nest version the library supports (10 to 12).`;

export const wsMessagesNotCounted = (websockets: string): string =>
  `${websockets}: WsProxy#create (assumption W1 of src/compat/nest-websockets.ts) could not be wrapped, so veza_websocket_messages_total is not counted (@CountWebSocketMessage() still counts). Use a @nestjs/websockets version the library supports (10 to 12).`;

// HTTP adapters (src/http/adapters/).
export const httpAdapterNotRecorded = (adapter: string, type: string): string =>
  `HTTP requests are not recorded: the application's HTTP adapter ${adapter} (getType() "${type}") has no recorder in this library (Express and Fastify have one, src/http/adapters/). Use ExpressAdapter or FastifyAdapter, or set http: { enabled: false } to silence this.`;

export const fastifyRouteUrlFallback = (version: string, why: string): string =>
  `Fastify ${version}: route URLs are read through request.routeOptions.url (exact, slower) because ${why} (assumption F1 of src/compat/fastify.ts; logged once).`;
