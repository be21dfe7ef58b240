import { Injectable } from '@nestjs/common';
import { InjectVezaMetricsOptions } from '../options/inject-options';
import type { ResolvedOptions } from '../options/resolve-options';
import { loadTraceReader, type TraceReader } from './trace-context';

/** The reader of the active OpenTelemetry span, for the exemplars of the HTTP duration histogram. */
@Injectable()
export class ExemplarTraces {
  /** `undefined` when exemplars are off or `@opentelemetry/api` is not installed. */
  readonly reader: TraceReader | undefined;

  constructor(@InjectVezaMetricsOptions() options: ResolvedOptions) {
    this.reader = options.exemplars ? loadTraceReader() : undefined;
  }
}
