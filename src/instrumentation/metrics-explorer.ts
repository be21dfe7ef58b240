import { Injectable, Logger, Optional, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { LazyModuleLoader, ModulesContainer } from '@nestjs/core';
import {
  followLazyLoads,
  hookFutureInstances,
  isSingleton,
  nestCoreVersion,
  staticTransientInstances,
  wrappersOf,
  type ContainerModule,
  type WrapperLike,
} from '../compat/nest-core';
import type { CounterMetric as Counter, AnyMetric as Metric } from '../compat/client-types';
import { AppRegistry } from '../registry/app-registry';
import { CatalogDefinitions } from '../registry/catalog-definitions';
import { SelfMetrics } from '../registry/self-metrics';
import { VezaMetricsRegistry } from '../registry/veza-metrics.registry';
import {
  gaugeSourceAndSteps,
  gaugeSourceNotSingleton,
  gaugeSourceTwice,
  instrumentationNotice,
  instrumentationProblem,
  instrumentationSetupFailed,
  instanceNotExtensible,
  lazyModuleNotMeasured,
  lazyModulesNotFollowed,
  scopedInstancesNotMeasured,
  untrackedReturn,
} from '../veza-metrics.messages';
import { AppMetrics } from './app-metrics';
import { gaugeSourcesOf, installGaugeSources, type BoundGaugeSource } from './gauge-sources';
import type { Instrument } from './instrument';
import { MethodMeter, type ProblemSink } from './method-meter';
import { bindMeter, sitesOf, unbindMeter, type Site } from './trampoline';

/** The self-metric: problems the decorators met while recording (the calls themselves were not affected). */
export const INSTRUMENTATION_ERRORS = 'veza_metrics_instrumentation_errors_total';

/** The prototypes of `object`'s chain, own class first, up to (not including) `Object.prototype`. */
function prototypes(object: object): object[] {
  const chain: object[] = [];
  for (
    let p = Object.getPrototypeOf(object) as object | null;
    p && p !== Object.prototype;
    p = Object.getPrototypeOf(p) as object | null
  ) {
    chain.push(p);
  }
  return chain;
}

/**
 * Binds, at bootstrap, the decorated methods of every provider, controller and enhancer of this
 * application to this application's metrics: each instance gets, per decorated method, the meter
 * its trampoline looks for. Instances created later (request-scoped, transient) are bound as Nest
 * creates them, and so are those of modules loaded later with `LazyModuleLoader` (which runs no
 * lifecycle hook for them) as each load completes. Scrape-time sources (`@GaugeSource`) are
 * installed on their gauges.
 */
@Injectable()
export class VezaMetricsExplorer implements OnModuleInit, OnModuleDestroy, ProblemSink {
  private readonly logger = new Logger('VezaMetrics');
  private readonly meters = new Map<Site, MethodMeter>();
  private readonly bound: Array<[object, Site, MethodMeter]> = [];
  private readonly undo: Array<() => void> = [];
  private readonly logged = new Set<string>();
  private readonly appMetrics: AppMetrics;
  private problems: Counter<'decorator' | 'method'> | undefined;
  /** The modules whose instances were explored, so that a lazy load explores only what it added. */
  private readonly explored = new Set<ContainerModule>();
  /** Gauges stepped by a decorator (`@TrackSession`…), with where: a `@GaugeSource` may not also set them. */
  private readonly steps = new Map<string, string>();
  /** The installed `@GaugeSource`s, by metric and labels, with where they are. */
  private readonly sourceKeys = new Map<string, string>();
  private closed = false;

  constructor(
    private readonly modules: ModulesContainer,
    private readonly metrics: VezaMetricsRegistry,
    app: AppRegistry,
    private readonly self: SelfMetrics,
    private readonly definitions: CatalogDefinitions,
    @Optional() private readonly lazyLoader?: LazyModuleLoader,
  ) {
    // The series cap and run-time safety the catalog's metrics are under.
    this.appMetrics = new AppMetrics(
      app.registry,
      (metric: Metric, native) => self.protect(metric, native),
      app.client,
    );
  }

  onModuleInit(): void {
    this.problems = this.appMetrics.get(
      {
        kind: 'counter',
        name: INSTRUMENTATION_ERRORS,
        help: 'Problems met while recording a decorated method (the call itself was not affected)',
        labelNames: ['decorator', 'method'],
      },
      'VezaMetricsModule',
      'VezaMetricsExplorer',
    ) as Counter<'decorator' | 'method'>;
    this.followLazyLoads();
    this.exploreNewModules(true);
  }

  /**
   * Explores the modules not explored yet. At start-up a conflict throws; after lazy loads it is
   * logged and the conflicting source left out, the rest installed.
   */
  private exploreNewModules(startup: boolean): void {
    const sources: BoundGaugeSource[] = [];
    for (const module of this.modules.values()) {
      if (this.explored.has(module)) continue;
      this.explored.add(module);
      for (const wrapper of wrappersOf(module)) {
        try {
          this.explore(wrapper, sources);
        } catch (error) {
          if (startup) throw error;
          this.logger.warn(lazyModuleNotMeasured(error));
        }
      }
    }
    const accepted: BoundGaugeSource[] = [];
    for (const source of sources) {
      const { spec } = source;
      const stepper = this.steps.get(spec.metric);
      const key = `${spec.metric}${JSON.stringify(spec.labels)}`;
      const other = this.sourceKeys.get(key);
      const conflict = stepper
        ? gaugeSourceAndSteps(spec.metric, spec.place, stepper)
        : other !== undefined
          ? gaugeSourceTwice(spec.metric, spec.labels, other, spec.place)
          : undefined;
      if (conflict === undefined) {
        this.sourceKeys.set(key, spec.place);
        accepted.push(source);
      } else if (startup) throw new Error(conflict);
      else this.logger.warn(lazyModuleNotMeasured(new Error(conflict)));
    }
    if (accepted.length > 0) this.undo.push(installGaugeSources(this.metrics, this.self, accepted, this));
  }

  /**
   * Wraps this application's `LazyModuleLoader.load` (one instance per application) so that the
   * modules loads add are explored once no load is in flight any more (a module of a load still
   * running holds placeholders, not its instances). A module the explorer cannot instrument is
   * logged and left unmeasured: the load itself always answers as Nest made it.
   */
  private followLazyLoads(): void {
    if (!this.lazyLoader) return;
    const undo = followLazyLoads(this.lazyLoader, () => {
      if (this.closed) return;
      try {
        this.exploreNewModules(false);
      } catch (error) {
        this.logger.warn(lazyModuleNotMeasured(error));
      }
    });
    if (undo) this.undo.push(undo);
    else this.logger.warn(lazyModulesNotFollowed(nestCoreVersion()));
  }

  onModuleDestroy(): void {
    this.closed = true;
    for (const [instance, site, meter] of this.bound) unbindMeter(instance, site, meter);
    this.bound.length = 0;
    // Last installed, first undone: each undo puts back what was there before it.
    for (const undo of this.undo.splice(0).reverse()) undo();
    this.appMetrics.release();
  }

  problem(place: string, decorator: string, error: unknown): void {
    try {
      this.problems?.inc({ decorator, method: place });
    } catch {
      // The self-metric is best effort: nothing here may reach the call.
    }
    this.once(`${decorator} ${place}`, () => instrumentationProblem(decorator, place, error));
  }

  /** A problem that did not stop the recording: logged once per method and decorator, counted. */
  notice(place: string, decorator: string, error: unknown): void {
    try {
      this.problems?.inc({ decorator, method: place });
    } catch {
      // As in `problem`.
    }
    this.once(`notice ${decorator} ${place}`, () => instrumentationNotice(decorator, place, error));
  }

  untracked(place: string, what: string): void {
    this.once(`untracked ${place}`, () => untrackedReturn(place, what));
  }

  /**
   * Logs `message()` the first time `key` is seen. Never throws: the message may describe an error
   * whose getters throw (its `message`, a revoked Proxy), and a logger may fail. Bound: one key per
   * decorated method and kind of problem, all known at bootstrap.
   */
  private once(key: string, message: () => string): void {
    if (this.logged.has(key)) return;
    this.logged.add(key);
    let text: string;
    try {
      text = message();
    } catch {
      text = `${key}: a problem whose description could not be read (a getter of the error threw)`;
    }
    try {
      this.logger.warn(text);
    } catch {
      // Likewise.
    }
  }

  private explore(wrapper: WrapperLike, sources: BoundGaugeSource[]): void {
    const { instance } = wrapper;
    if (typeof instance !== 'object' || instance === null) return;
    const chain = prototypes(instance);
    const sites = chain.flatMap((p) => sitesOf(p));
    const gauges = chain.flatMap((p) => gaugeSourcesOf(p));
    if (sites.length === 0 && gauges.length === 0) return;
    const singleton = isSingleton(wrapper);
    if (gauges.length > 0) {
      if (!singleton) throw new Error(gaugeSourceNotSingleton(gauges[0].place));
      for (const spec of gauges) sources.push({ instance: instance as BoundGaugeSource['instance'], spec });
    }
    if (sites.length === 0) return;
    const meters = sites.map((site) => this.meterFor(site));
    for (const site of sites)
      for (const spec of site.specs)
        for (const gauge of spec.steps ?? []) this.steps.set(gauge, `${spec.decorator} on "${site.place}"`);
    const bind = (object: object, track: boolean): void => {
      if (!Object.isExtensible(object)) {
        this.once(`frozen ${sites[0].place}`, () => instanceNotExtensible(sites.map((s) => s.place)));
        return;
      }
      sites.forEach((site, i) => {
        bindMeter(object, site, meters[i]);
        if (track) this.bound.push([object, site, meters[i]]);
      });
    };
    bind(instance, true);
    if (singleton) return;
    for (const transient of staticTransientInstances(wrapper)) bind(transient, true);
    const unhook = hookFutureInstances(wrapper, (object) => bind(object, false));
    if (unhook) this.undo.push(unhook);
    else this.logger.warn(scopedInstancesNotMeasured(sites.map((s) => s.place)));
  }

  private meterFor(site: Site): MethodMeter {
    let meter = this.meters.get(site);
    if (meter) return meter;
    const instruments: Instrument[] = site.specs.map((spec) => {
      try {
        return spec.build({
          place: site.place,
          metrics: this.metrics,
          definitions: this.definitions,
          appMetric: (definition, decorator) => this.appMetrics.get(definition, decorator, site.place),
          report: (error) => this.notice(site.place, spec.name, error),
        });
      } catch (error) {
        throw new Error(instrumentationSetupFailed(spec.decorator, site.place, error), { cause: error });
      }
    });
    meter = new MethodMeter(
      site.place,
      site.specs.some((s) => s.timed),
      instruments,
      site.specs.map((s) => s.name),
      this,
    );
    this.meters.set(site, meter);
    return meter;
  }
}
