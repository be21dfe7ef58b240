import { VezaMetric } from '../catalog/catalog';
import { FAILURE, SUCCESS } from '../instrumentation/instrument';
import { labelFrom, CellCache } from '../instrumentation/labels';
import { counterCell } from '../instrumentation/cells';
import {
  argument,
  decoratorOptions,
  optionalFunction,
  stringOrFunction,
} from '../instrumentation/decorator-options';
import { instrumentMethod } from '../instrumentation/instrument-method';
import { shapeOf } from '../options/option-schema';
import type { AnyArgs, AnyResult } from '../instrumentation/loose-types';

/** Options of {@link CountWebSocketMessage}. */
export interface CountWebSocketMessageOptions<R = AnyResult> {
  /**
   * The `status` of a handled message, from the handler's result (e.g. `rejected` for a refusal it
   * returns rather than throws). Keep it bounded.
   * @defaultValue `'ok'`; a handler that throws counts `'error'`
   */
  status?: (result: R) => string;
}

/** The rules of {@link CountWebSocketMessageOptions}. */
export const COUNT_WEBSOCKET_MESSAGE_OPTIONS_SCHEMA = decoratorOptions(
  shapeOf<CountWebSocketMessageOptions>()({ status: optionalFunction<(result: unknown) => unknown>() }),
);

/**
 * Counts a WebSocket message in `veza_websocket_messages_total{type, status}` when its handler ends:
 * `status="ok"` when it returns, `"error"` when it throws. Put it on a `@SubscribeMessage` handler.
 *
 * @example
 * ```ts
 * @SubscribeMessage('chat')
 * @CountWebSocketMessage('chat')
 * onChat(@MessageBody() body: ChatMessage) { ... }
 * ```
 */
export function CountWebSocketMessage<A extends unknown[] = AnyArgs, R = AnyResult>(
  type: string | ((...args: A) => string),
  options?: CountWebSocketMessageOptions<R>,
): MethodDecorator {
  const decorator = `@CountWebSocketMessage(${typeof type === 'string' ? JSON.stringify(type) : 'fn'})`;
  return instrumentMethod(decorator, (at) => {
    const label = argument(at, 'type', stringOrFunction<(...args: A) => string>(), type);
    const statusOf = COUNT_WEBSOCKET_MESSAGE_OPTIONS_SCHEMA.resolve(options, at, {}).status as
      ((result: R) => unknown) | undefined;
    return {
      decorator,
      name: 'CountWebSocketMessage',
      identity: 'CountWebSocketMessage',
      timed: false,
      needsArgs: typeof label === 'function',
      writes: [VezaMetric.WebSocketMessages],
      build: ({ metrics }) => {
        const messages = metrics.get(VezaMetric.WebSocketMessages);
        const cells = new CellCache(['type', 'status'], (labels) => counterCell(messages, labels));
        return {
          end(outcome, value, _seconds, args) {
            if (outcome === SUCCESS)
              cells
                .get({ type: labelFrom('type', label, args), status: statusOf ? statusOf(value as R) : 'ok' })
                .inc();
            else if (outcome === FAILURE)
              cells.get({ type: labelFrom('type', label, args), status: 'error' }).inc();
          },
        };
      },
    };
  });
}
