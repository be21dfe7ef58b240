import { findCatalogEntry } from '../catalog/catalog';
import type { AppMetricDefinition } from '../instrumentation/instrument';
import { argsArray } from '../instrumentation/labels';
import { appMetricIsCatalogMetric, appMetricLabelsRequired, wrongLabelNames } from '../veza-metrics.messages';
import type { OptionCheck } from './instrument-method';
import type { AnyArgs, AnyResult } from './loose-types';
import { isBucketList, isLabelName } from '../options/option-checks';
import { BUCKETS_EXPECTED } from '../options/option-schema';

/** What a generic decorator's label function is given: the call, and how it ended. */
export interface CallInfo<A extends unknown[] = AnyArgs, R = AnyResult> {
  /** The arguments the method was called with. */
  readonly args: A;
  /** The value returned (resolved, last emitted) when the call succeeded. */
  readonly result: R | undefined;
  /** The error thrown (rejected, emitted) when the call failed. */
  readonly error: unknown;
  /** How the call ended: returned (resolved, completed) or threw (rejected, errored). */
  readonly outcome: 'success' | 'failure';
}

/** The options every generic decorator (`@Counted`, `@Timed`, `@InProgress`) takes. */
export interface AppMetricOptions {
  /** The metric's name, e.g. `veza_emails_sent_total`. It must not be a catalog name. */
  name: string;
  /** The metric's help text, shown in `# HELP` of the exposition. */
  help: string;
  /**
   * The metric's label names; each needs a value from `labels`.
   * @defaultValue `[]`
   */
  labelNames?: readonly string[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/** Checks the common options and returns the definition (without its kind-specific parts). */
export function checkAppMetric(
  check: OptionCheck,
  options: AppMetricOptions,
  reserved: readonly string[] = [],
): AppMetricDefinition {
  const name = check.string('name', options.name);
  if (!METRIC_NAME.test(name))
    check.invalid('name', 'a Prometheus metric name (letters, digits, _ and :)', name);
  if (findCatalogEntry(name)) check.fail(appMetricIsCatalogMetric(check.decorator, check.place, name));
  const help = check.string('help', options.help);
  const labelNames: unknown = options.labelNames ?? [];
  const valid =
    Array.isArray(labelNames) &&
    new Set(labelNames).size === labelNames.length &&
    labelNames.every((l) => typeof l === 'string' && isLabelName(l) && !reserved.includes(l));
  if (!valid) {
    const rule = `distinct Prometheus label names (not starting with __${reserved.length ? `, not ${reserved.join(', ')}` : ''})`;
    check.invalid('labelNames', `an array of ${rule}`, labelNames);
  }
  return { kind: 'counter', name, help, labelNames: [...(labelNames as string[])] };
}

/**
 * Checks `labels`: fixed labels must name exactly `labelNames` with string values; a function is
 * checked at each call. A metric with label names needs `labels`.
 */
export function checkLabels<F>(
  check: OptionCheck,
  labelNames: readonly string[],
  labels: unknown,
): Readonly<Record<string, string>> | F {
  if (typeof labels === 'function') return labels as F;
  if (labels === undefined) {
    if (labelNames.length > 0) check.fail(appMetricLabelsRequired(check.decorator, check.place, labelNames));
    return {};
  }
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels))
    check.invalid('labels', 'an object or a function', labels);
  const given = Object.keys(labels);
  const exact =
    given.length === labelNames.length &&
    labelNames.every((l) => typeof (labels as Record<string, unknown>)[l] === 'string');
  if (!exact) check.fail(wrongLabelNames(check.decorator, check.place, given, labelNames));
  return { ...(labels as Record<string, string>) };
}

/** Buckets: a non-empty, strictly increasing array of finite numbers. */
export function checkBuckets(check: OptionCheck, buckets: unknown): readonly number[] | undefined {
  if (buckets === undefined) return undefined;
  if (!isBucketList(buckets)) check.invalid('buckets', BUCKETS_EXPECTED, buckets);
  return [...buckets];
}

/** `{ args, result, error, outcome }` for a label function. */
export function callInfo(args: ArrayLike<unknown> | undefined, outcome: number, value: unknown): CallInfo {
  const success = outcome === 0;
  return {
    args: argsArray(args),
    result: success ? value : undefined,
    error: success ? undefined : value,
    outcome: success ? 'success' : 'failure',
  };
}
