import { VezaMetric } from '../catalog/catalog';
import { CANCELLED, FAILURE, SUCCESS } from '../instrumentation/instrument';
import { readSafely, CellCache } from '../instrumentation/labels';
import { counterCell, histogramCell } from '../instrumentation/cells';
import { decoratorOptions, optionalFunction } from '../instrumentation/decorator-options';
import { instrumentMethod } from '../instrumentation/instrument-method';
import { shapeOf } from '../options/option-schema';
import type { AnyResult } from '../instrumentation/loose-types';

/** Options of {@link CountOrder}. */
export interface CountOrderOptions<R = AnyResult> {
  /**
   * The order's `status` label, from the method's result. Keep it bounded (`pending`, `completed`, …).
   * @defaultValue the result's `status` property when it is a string, else `completed`
   */
  status?: (result: R) => string;
}

/** The result's `status` when it is a string; `completed` when there is none or it cannot be read (a getter that throws). */
const defaultStatus = (result: unknown): unknown => {
  const status = result === null || result === undefined ? undefined : readSafely(result, 'status');
  return typeof status === 'string' ? status : 'completed';
};

/** The rules of {@link CountOrderOptions}. */
export const COUNT_ORDER_OPTIONS_SCHEMA = decoratorOptions(
  shapeOf<CountOrderOptions>()({ status: optionalFunction<(result: unknown) => unknown>() }),
);

/**
 * Counts an order in `veza_commerce_orders_total{status}`: the status of the order the method
 * returns, or `failed` when it throws.
 *
 * @example
 * ```ts
 * @CountOrder()
 * async placeOrder(cart: Cart): Promise<Order> { ... } // counts status="pending" for { status: 'pending', ... }
 * ```
 */
export function CountOrder<R = AnyResult>(options?: CountOrderOptions<R>): MethodDecorator {
  return instrumentMethod('@CountOrder()', (at) => {
    const statusOf =
      (COUNT_ORDER_OPTIONS_SCHEMA.resolve(options, at, {}).status as ((result: R) => unknown) | undefined) ??
      defaultStatus;
    return {
      decorator: '@CountOrder()',
      name: 'CountOrder',
      identity: 'CountOrder',
      timed: false,
      needsArgs: false,
      writes: [VezaMetric.CommerceOrders],
      build: ({ metrics }) => {
        const orders = metrics.get(VezaMetric.CommerceOrders);
        const byStatus = new CellCache(['status'], (labels) => counterCell(orders, labels));
        const failed = byStatus.one('failed');
        return {
          end(outcome, value) {
            if (outcome === SUCCESS) byStatus.one(statusOf(value as R)).inc();
            else if (outcome === FAILURE) failed.inc();
          },
        };
      },
    };
  });
}

/**
 * Times a checkout (cart to order) in `veza_commerce_checkout_duration_seconds`, for every call that
 * ends, success or failure.
 *
 * @example
 * ```ts
 * @TimeCheckout()
 * @CountOrder()
 * async checkout(cartId: string): Promise<Order> { ... }
 * ```
 */
export function TimeCheckout(): MethodDecorator {
  return instrumentMethod('@TimeCheckout()', () => ({
    decorator: '@TimeCheckout()',
    name: 'TimeCheckout',
    identity: 'TimeCheckout',
    timed: true,
    needsArgs: false,
    writes: [VezaMetric.CommerceCheckoutDuration],
    build: ({ metrics }) => {
      const duration = histogramCell(metrics.get(VezaMetric.CommerceCheckoutDuration));
      return {
        end(outcome, _value, seconds) {
          if (outcome !== CANCELLED) duration.observe(seconds);
        },
      };
    },
  }));
}
