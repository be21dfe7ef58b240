import { VezaMetric } from '../catalog/catalog';
import { FAILURE, SUCCESS } from '../instrumentation/instrument';
import { counterCell } from '../instrumentation/cells';
import { decoratorOptions, optionalFunction } from '../instrumentation/decorator-options';
import { instrumentMethod } from '../instrumentation/instrument-method';
import { shapeOf } from '../options/option-schema';
import type { AnyResult } from '../instrumentation/loose-types';

/** Options of {@link TrackTransferRetry}. */
export interface TrackTransferRetryOptions<R = AnyResult> {
  /**
   * For a method that reports a failed attempt by its result rather than by throwing.
   * @defaultValue every call that returns is a success
   */
  isSuccess?: (result: R) => unknown;
  /**
   * Whether a thrown error means the transfer will not be retried again (max retries exceeded).
   * @defaultValue never: every failure is an ordinary one
   */
  isPermanent?: (error: unknown) => unknown;
}

/** The rules of {@link TrackTransferRetryOptions}. */
export const TRACK_TRANSFER_RETRY_OPTIONS_SCHEMA = decoratorOptions(
  shapeOf<TrackTransferRetryOptions>()({
    isSuccess: optionalFunction<(result: unknown) => unknown>(),
    isPermanent: optionalFunction<(error: unknown) => unknown>(),
  }),
);

/**
 * One transfer retry attempt per call (per subscription for an Observable):
 * `veza_transfer_retry_total` when the attempt starts, then, when it ends,
 * `veza_transfer_retry_success_total`, or `veza_transfer_retry_permanent_failures_total` when
 * `isPermanent` says the failure is final, or `veza_transfer_retry_failures_total`.
 *
 * @example
 * ```ts
 * @TrackTransferRetry({ isPermanent: (e) => e instanceof MaxRetriesExceededError })
 * async retryTransfer(transferId: string): Promise<void> { ... }
 * ```
 */
export function TrackTransferRetry<R = AnyResult>(options?: TrackTransferRetryOptions<R>): MethodDecorator {
  return instrumentMethod('@TrackTransferRetry()', (at) => {
    const opts = TRACK_TRANSFER_RETRY_OPTIONS_SCHEMA.resolve(options, at, {});
    const isSuccess = opts.isSuccess as ((result: R) => unknown) | undefined;
    const isPermanent = opts.isPermanent;
    return {
      decorator: '@TrackTransferRetry()',
      name: 'TrackTransferRetry',
      identity: 'TrackTransferRetry',
      timed: false,
      needsArgs: false,
      writes: [
        VezaMetric.TransferRetries,
        VezaMetric.TransferRetrySuccesses,
        VezaMetric.TransferRetryFailures,
        VezaMetric.TransferRetryPermanentFailures,
      ],
      build: ({ metrics }) => {
        const attempts = counterCell(metrics.get(VezaMetric.TransferRetries));
        const successes = counterCell(metrics.get(VezaMetric.TransferRetrySuccesses));
        const failures = counterCell(metrics.get(VezaMetric.TransferRetryFailures));
        const permanent = counterCell(metrics.get(VezaMetric.TransferRetryPermanentFailures));
        return {
          start() {
            attempts.inc();
          },
          end(outcome, value) {
            if (outcome === SUCCESS)
              (isSuccess === undefined || isSuccess(value as R) ? successes : failures).inc();
            else if (outcome === FAILURE)
              (isPermanent !== undefined && isPermanent(value) ? permanent : failures).inc();
          },
        };
      },
    };
  });
}
