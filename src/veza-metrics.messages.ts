/** Every user-facing string of the library, as functions of their context. */

export const OPTION_ERROR_PREFIX = 'VezaMetricsModule:';

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

export const scrapeFailed = (error: unknown): string =>
  `Rendering the metrics failed: ${error instanceof Error ? error.message : String(error)}`;

export const recordingFailed = (where: string, error: unknown): string =>
  `Recording metrics in ${where} failed and was skipped: ${error instanceof Error ? error.message : String(error)}`;

/** A short, bounded description of a value for error messages. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array (${truncate(JSON.stringify(value))})`;
  if (typeof value === 'string') return `the string ${truncate(JSON.stringify(value))}`;
  if (typeof value === 'object') return `an object (${truncate(safeJson(value))})`;
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return `symbol ${truncate(value.description ?? '')}`;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return `${typeof value} ${String(value)}`;
  return 'undefined';
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
    : `The scrape-time source of "${metric}" failed (${error instanceof Error ? error.message : String(error as string)}); the metric is left out of this scrape.`;

export const metricsServerListening = (host: string, port: number, path: string): string =>
  `Serving Prometheus metrics on their own listener at http://${host.includes(':') ? `[${host}]` : host}:${port}${path}`;

export const metricsServerFailed = (host: string, port: number, error: unknown): string =>
  `${OPTION_ERROR_PREFIX} option "metricsServer" could not listen on ${host}:${port} (${error instanceof Error ? error.message : String(error as string)}); choose a free port.`;

export const seriesOverflow = (metric: string, cap: number): string =>
  `Metric "${metric}" reached its cap of ${cap} label sets; new ones are folded into its __overflow__ series (raise cardinality.perMetric["${metric}"] if this is expected).`;

export const recordingRefused = (metric: string, error: unknown): string =>
  `A recording into "${metric}" was refused and skipped: ${error instanceof Error ? error.message : String(error as string)}.`;
