import { Injectable } from '@nestjs/common';
import { VEZA_CATALOG, type VezaMetricName } from '../catalog/catalog';
import { InjectVezaMetricsOptions } from '../options/inject-options';
import type { ResolvedOptions } from '../options/resolve-options';
import { exposedDefinition, type ExposedDefinition } from './metric-definition';

/**
 * How each catalog metric is exposed in this application (its name under the `naming` option, its
 * buckets under `buckets`, the unit scale of strict naming): what the catalog creates, and what the
 * recorders read (the HTTP buckets, a histogram's scale).
 */
@Injectable()
export class CatalogDefinitions {
  private readonly definitions = new Map<string, ExposedDefinition>();

  constructor(@InjectVezaMetricsOptions() options: ResolvedOptions) {
    for (const row of VEZA_CATALOG)
      this.definitions.set(row.name, exposedDefinition(row, options.naming, options.buckets));
  }

  /** The catalog metric `name` (its seed name) as exposed. */
  of(name: VezaMetricName): ExposedDefinition {
    return this.definitions.get(name) as ExposedDefinition;
  }

  /** Every catalog metric as exposed, in the catalog's order. */
  all(): IterableIterator<ExposedDefinition> {
    return this.definitions.values();
  }
}
