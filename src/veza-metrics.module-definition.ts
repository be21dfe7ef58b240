import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { VezaMetricsModuleOptions } from './veza-metrics.options';

const built = new ConfigurableModuleBuilder<VezaMetricsModuleOptions>({ moduleName: 'VezaMetrics' })
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createVezaMetricsOptions')
  // Global unless told otherwise: one import in the root module and every module can inject the metrics.
  .setExtras({ isGlobal: true }, (definition, extras) => ({ ...definition, global: extras.isGlobal }))
  .build();

/**
 * The base class of {@link VezaMetricsModule}, made by Nest's `ConfigurableModuleBuilder`: it gives
 * the module `forRoot(options)` and `forRootAsync(...)` (with `imports`, `inject`, `useFactory`,
 * `useClass` or `useExisting`, and `isGlobal`), whose factory returns the
 * {@link VezaMetricsModuleOptions} (a class given to `useClass` implements
 * `createVezaMetricsOptions()`). Applications import `VezaMetricsModule`, never this class.
 */
export const VezaMetricsConfigurableModule = built.ConfigurableModuleClass;

/** The injection token of the raw options given to `forRoot` / `forRootAsync`. */
export const VEZA_METRICS_OPTIONS = built.MODULE_OPTIONS_TOKEN;
