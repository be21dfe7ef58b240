import { isObservable, tap } from 'rxjs';
import { wrapGatewayHandlers, type WrapResult } from '../compat/nest-websockets';

/**
 * Where a gateway client keeps the recorder of its application (set when it connects), so that the
 * one patch below, shared by every application of the process, reports to the right one.
 */
export const WS_MESSAGE_SINK = Symbol.for('veza.metrics.wsMessageSink');

/** Receives the outcome of each message a `@SubscribeMessage()` handler took. */
export interface WsMessageSink {
  message(event: string, ok: boolean): void;
}

/**
 * Notes how each message a `@SubscribeMessage()` handler took ended, through the seam of
 * `@nestjs/websockets` (W1 of src/compat/nest-websockets.ts), once per process: `success` when the
 * pipeline (guards, pipes, interceptors, the method) returns (an Observable: when it completes),
 * `error` when it throws, rejects or errors, with the same error passed on to the gateway's exception
 * filters. Clients of applications without the module are passed through.
 *
 * @param load how to load a module (`require`; replaced in tests).
 * @returns what the seam answered: `absent` when `@nestjs/websockets` is not installed (nothing is
 *   required), `changed` when its internals are not the expected ones.
 */
export function observeGatewayMessages(load?: (id: string) => unknown): WrapResult {
  return wrapGatewayHandlers(
    (target, event) =>
      function (this: unknown, ...args: unknown[]): unknown {
        const sink = (args[0] as { [WS_MESSAGE_SINK]?: WsMessageSink } | null | undefined)?.[WS_MESSAGE_SINK];
        if (sink === undefined) return target.apply(this, args);
        let result: unknown;
        try {
          result = target.apply(this, args);
        } catch (error) {
          sink.message(event, false);
          throw error;
        }
        return settle(result, event, sink);
      },
    load,
  );
}

function settle(result: unknown, event: string, sink: WsMessageSink): unknown {
  const done = (value: unknown): unknown => {
    if (!isObservable(value)) {
      sink.message(event, true);
      return value;
    }
    return value.pipe(
      tap({ complete: () => sink.message(event, true), error: () => sink.message(event, false) }),
    );
  };
  if (typeof (result as PromiseLike<unknown> | undefined)?.then === 'function') {
    return (result as PromiseLike<unknown>).then(done, (error: unknown) => {
      sink.message(event, false);
      throw error;
    });
  }
  return done(result);
}
