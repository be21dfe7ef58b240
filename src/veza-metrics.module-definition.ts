import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { VezaMetricsModuleOptions } from './options/veza-metrics-options.interface';

/**
 * The module's configurable-module pieces. `VEZA_METRICS_OPTIONS` is the injection token of the raw
 * options given to `forRoot` / `forRootAsync`, for providers that need to read them.
 */
export const {
  ConfigurableModuleClass: VezaMetricsConfigurableModule,
  MODULE_OPTIONS_TOKEN: VEZA_METRICS_OPTIONS,
  OPTIONS_TYPE: VEZA_METRICS_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: VEZA_METRICS_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<VezaMetricsModuleOptions>({ moduleName: 'VezaMetrics' })
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createVezaMetricsOptions')
  // Global unless told otherwise: one import in the root module and every module can inject the metrics.
  .setExtras({ isGlobal: true }, (definition, extras) => ({ ...definition, global: extras.isGlobal }))
  .build();
