import { Inject } from '@nestjs/common';

/**
 * @internal The injection token of the module's options once resolved (validated, defaults filled
 * in): one provider per `VezaMetricsModule` import. Their shape is the library's own and may change.
 */
export const VEZA_METRICS_RESOLVED_OPTIONS = 'VEZA_METRICS:RESOLVED_OPTIONS';

/**
 * @internal Injects the module's resolved options (in the style of `@nestjs/throttler`'s
 * `InjectThrottlerOptions()`), typed by the reader as `ResolvedOptions<{ its: part }>`.
 */
export const InjectVezaMetricsOptions = (): ParameterDecorator & PropertyDecorator =>
  Inject(VEZA_METRICS_RESOLVED_OPTIONS);
