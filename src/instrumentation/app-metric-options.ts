import { findCatalogEntry } from '../catalog/catalog';
import type { AppMetricDefinition } from './instrument';
import { argsArray } from './labels';
import { appMetricIsCatalogMetric, appMetricLabelsRequired, wrongLabelNames } from '../veza-metrics.messages';
import type { AnyArgs, AnyResult } from './loose-types';
import { isLabelName } from '../options/option-checks';
import { bucketList, fail, optional, rule, shapeOf, type Rule } from '../options/option-schema';
import { decoratorOf, nonEmptyString } from './decorator-options';

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

/** `name`: a Prometheus metric name that is not a catalog name. */
export const appMetricName: Rule<string> = rule((value, at, siblings) => {
  const name = nonEmptyString.resolve(value, at, siblings);
  if (!METRIC_NAME.test(name)) fail(at, 'a Prometheus metric name (letters, digits, _ and :)', name);
  const { decorator, place } = decoratorOf(at);
  if (findCatalogEntry(name)) throw new Error(appMetricIsCatalogMetric(decorator, place, name));
  return name;
});

/** `labelNames`: distinct label names (none of `reserved`); `[]` when not given. */
export const appMetricLabelNames = (reserved: readonly string[] = []): Rule<string[]> =>
  rule((value, at) => {
    const labelNames: unknown = value ?? [];
    const valid =
      Array.isArray(labelNames) &&
      new Set(labelNames).size === labelNames.length &&
      labelNames.every((l) => typeof l === 'string' && isLabelName(l) && !reserved.includes(l));
    if (!valid) {
      const names = `distinct Prometheus label names (not starting with __${reserved.length ? `, not ${reserved.join(', ')}` : ''})`;
      fail(at, `an array of ${names}`, labelNames);
    }
    return [...(labelNames as string[])];
  });

/**
 * `labels`: fixed labels must name exactly the sibling `labelNames` with string values; a function
 * is checked at each call. A metric with label names needs `labels`.
 */
export const appMetricLabels = <F>(): Rule<Readonly<Record<string, string>> | F> =>
  rule((labels, at, siblings) => {
    if (typeof labels === 'function') return labels as F;
    const labelNames = siblings.labelNames as readonly string[];
    const { decorator, place } = decoratorOf(at);
    if (labels === undefined) {
      if (labelNames.length > 0) throw new Error(appMetricLabelsRequired(decorator, place, labelNames));
      return {};
    }
    if (typeof labels !== 'object' || labels === null || Array.isArray(labels))
      fail(at, 'an object or a function', labels);
    const given = Object.keys(labels);
    const exact =
      given.length === labelNames.length &&
      labelNames.every((l) => typeof (labels as Record<string, unknown>)[l] === 'string');
    if (!exact) throw new Error(wrongLabelNames(decorator, place, given, labelNames));
    return { ...(labels as Record<string, string>) };
  });

/** The rules of `name`, `help` and `labelNames` ({@link AppMetricOptions}). */
export interface AppMetricShape {
  readonly name: Rule<string>;
  readonly help: Rule<string>;
  readonly labelNames: Rule<string[]>;
}

/** The rules of the options every generic decorator takes, in the order they are checked. */
export const appMetricShape = (reserved: readonly string[] = []): AppMetricShape =>
  shapeOf<AppMetricOptions>()({
    name: appMetricName,
    help: nonEmptyString,
    labelNames: appMetricLabelNames(reserved),
  });

/** `{ name, help, labelNames }` as a counter's definition (kind-specific parts to add). */
export function appMetricDefinition(options: {
  name: string;
  help: string;
  labelNames: string[];
}): AppMetricDefinition {
  return { kind: 'counter', name: options.name, help: options.help, labelNames: options.labelNames };
}

/** Buckets: a non-empty, strictly increasing array of finite numbers (the one bucket rule). */
export const optionalBuckets: Rule<readonly number[] | undefined> = optional(
  rule((value, at, siblings) => [...bucketList.resolve(value, at, siblings)]),
);

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
