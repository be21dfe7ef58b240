import type { CounterMetric } from '../compat/client-types';
import { ErrorTypes } from './error-labels';
import { CounterCell } from './metric-cells';

/**
 * Counts errors into `veza_errors_total{type, severity}` for one recorder (HTTP, RPC): the `type`
 * is bounded by {@link ErrorTypes}, and each (type, severity) series is resolved once, then written
 * in place. Bound: the types of `ErrorTypes` (Nest's, JavaScript's and `MAX_EXTRA_ERROR_TYPES`
 * others, then `OtherError`) times the severities the recorder gives (`error`, `critical`).
 */
export class ErrorCounter {
  private readonly types = new ErrorTypes();
  private readonly cells = new Map<string, CounterCell<'type' | 'severity'>>();

  constructor(private readonly errors: () => CounterMetric<'type' | 'severity'>) {}

  /** The bounded `type` label of `exception` (`<none>` when no exception led to the error). */
  typeOf(exception: unknown): string {
    return this.types.typeOf(exception);
  }

  /** Counts one error of `type` (from {@link typeOf}) and `severity`. */
  count(type: string, severity: string): void {
    const key = `${type}\u0000${severity}`;
    let cell = this.cells.get(key);
    if (cell === undefined) {
      cell = new CounterCell(this.errors(), { type, severity });
      this.cells.set(key, cell);
    }
    cell.inc();
  }
}
