import { Logger } from '@nestjs/common';
import type { ModulesContainer } from '@nestjs/core';
import type { Metric } from 'prom-client';
import type { VezaMetricsExplorer } from '../../../src/instrumentation/metrics-explorer';
import type { VezaMetricsModuleOptions } from '../../../src/veza-metrics.options';
import type { VezaMetricsRegistry } from '../../../src/registry/veza-metrics.registry';
import { standaloneMetrics } from '../../utils/standalone-metrics';

/** A provider as the explorer sees it: a singleton unless told otherwise. */
export interface FakeWrapper {
  instance: unknown;
  isTransient?: boolean;
  isDependencyTreeStatic?: () => boolean;
}

/** One application, without Nest: a registry and an explorer over `instances`, initialised. */
export interface Harness {
  metrics: VezaMetricsRegistry;
  explorer: VezaMetricsExplorer;
  /** The value of a counter or gauge series, or a histogram's count and sum (prom-client's own `get()`). */
  value(name: string, labels?: Record<string, string>): Promise<number | undefined>;
  histogram(
    name: string,
    labels?: Record<string, string>,
  ): Promise<{ count: number; sum: number } | undefined>;
  close(): void;
}

export function harness(
  instances: Array<object | FakeWrapper>,
  options: VezaMetricsModuleOptions = {},
): Harness {
  const standalone = standaloneMetrics({ defaultMetrics: false, ...options });
  const { metrics } = standalone;
  const providers = new Map<unknown, FakeWrapper>(
    instances.map((x, i) => [
      i,
      'instance' in (x as FakeWrapper)
        ? (x as FakeWrapper)
        : { instance: x, isDependencyTreeStatic: () => true },
    ]),
  );
  const modules = new Map([
    ['test', { providers, controllers: new Map(), injectables: new Map() }],
  ]) as unknown as ModulesContainer;
  const explorer = standalone.explorer(modules);
  explorer.onModuleInit();
  const sample = async (name: string, labels: Record<string, string>, suffix = '') => {
    const metric = metrics.registry.getSingleMetric(name) as Metric | undefined;
    if (!metric) throw new Error(`no metric ${name}`);
    const { values } = (await metric.get()) as unknown as {
      values: Array<{ labels: Record<string, unknown>; value: number; metricName?: string }>;
    };
    const match = values.filter(
      (v) =>
        (suffix === '' || v.metricName === name + suffix) &&
        Object.entries(labels).every(([k, l]) => v.labels[k] === l) &&
        (suffix !== '' || !('le' in v.labels)),
    );
    if (match.length > 1)
      throw new Error(`${match.length} series of ${name} match ${JSON.stringify(labels)}`);
    return match[0]?.value;
  };
  return {
    metrics,
    explorer,
    value: (name, labels = {}) => sample(name, labels),
    histogram: async (name, labels = {}) => {
      const count = await sample(name, labels, '_count');
      if (count === undefined) return undefined;
      return { count, sum: await sample(name, labels, '_sum') };
    },
    close: () => {
      explorer.onModuleDestroy();
      standalone.close();
    },
  };
}

/** Silences and records the explorer's warnings. */
export function captureWarnings(): { messages: string[]; restore(): void } {
  const messages: string[] = [];
  const spy = jest.spyOn(Logger.prototype, 'warn').mockImplementation((message: unknown) => {
    messages.push(String(message));
  });
  return { messages, restore: () => spy.mockRestore() };
}
