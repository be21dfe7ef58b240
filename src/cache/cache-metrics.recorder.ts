import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import { VezaMetric } from '../catalog/catalog';
import { cacheName, cachesOf, hookCache, type CacheReadObserver } from '../compat/cache-manager';
import { counterCell, type CounterCell } from '../instrumentation/cells';
import { boundedLabel } from '../instrumentation/labels';
import { InjectVezaMetricsOptions } from '../options/inject-options';
import type { ResolvedOptions } from '../options/resolve-options';
import { VezaMetricsRegistry } from '../registry/veza-metrics.registry';
import { recordingFailed } from '../veza-metrics.messages';
import type { ResolvedCacheOptions } from './cache-options';

/**
 * Counts the reads of every cache of `@nestjs/cache-manager` in this application (each
 * `CacheModule.register()`, global or per module), with no code in the application, through the
 * cache-manager instance every caller shares (src/compat/cache-manager.ts): `get`, `mget` (per key)
 * and `wrap`, whether the application calls them through `@Inject(CACHE_MANAGER)` or
 * `CacheInterceptor` does. A read that finds a value is one count in
 * `veza_cache_hits_total{subsystem}`, one that finds none in `veza_cache_misses_total{subsystem}`;
 * a write, a delete, and a read that fails or during which the cache reports a store failure, are
 * neither. `subsystem` is the Keyv namespace the application gave the cache's primary store, else
 * its stores' kinds (`memory`, `redis`, `memory+redis`): one value per cache of the application,
 * set by its code, cut as every label value before it is kept; keys never reach a label, and
 * nothing is kept per key. The caller gets the very promise cache-manager returned.
 */
@Injectable()
export class CacheMetricsRecorder implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('VezaMetrics');
  private readonly unhooks: Array<() => void> = [];
  private failed = false;

  constructor(
    private readonly modules: ModulesContainer,
    private readonly metrics: VezaMetricsRegistry,
    @InjectVezaMetricsOptions() private readonly options: ResolvedOptions<{ cache: ResolvedCacheOptions }>,
  ) {}

  /** Every provider is built by now; reads from `onApplicationBootstrap` on are all counted. */
  onModuleInit(): void {
    if (!this.options.cache.enabled) return;
    try {
      const caches = cachesOf(this.modules);
      if (caches.length === 0) return;
      const bySubsystem = new Map<string, CacheReadObserver>();
      for (const cache of caches) {
        const subsystem = boundedLabel(cacheName(cache));
        let observer = bySubsystem.get(subsystem);
        if (!observer) {
          observer = this.observer(subsystem);
          bySubsystem.set(subsystem, observer);
        }
        this.unhooks.push(hookCache(cache, observer));
      }
    } catch (error) {
      this.fail(error);
    }
  }

  onApplicationShutdown(): void {
    for (const unhook of this.unhooks.splice(0)) unhook();
  }

  private observer(subsystem: string): CacheReadObserver {
    const hits: CounterCell = counterCell(this.metrics.get(VezaMetric.CacheHits), { subsystem });
    const misses: CounterCell = counterCell(this.metrics.get(VezaMetric.CacheMisses), { subsystem });
    const add = (cell: CounterCell, n: number): void => {
      try {
        for (let i = 0; i < n; i++) cell.inc();
      } catch (error) {
        this.fail(error);
      }
    };
    return { hits: (n) => add(hits, n), misses: (n) => add(misses, n) };
  }

  private fail(error: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.logger.warn(recordingFailed('the cache recorder', error));
  }
}
