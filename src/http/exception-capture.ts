import { Logger } from '@nestjs/common';
import { nestCoreVersion, wrapExceptionsHandler } from '../compat/nest-core';
import { exceptionClassNotCaptured } from '../veza-metrics.messages';

/**
 * Where the exception Nest handled for a request is kept, on the request object (shared by every
 * copy of the library in the process, hence `Symbol.for`).
 */
export const HANDLED_EXCEPTION = Symbol.for('veza.metrics.handledException');

type Tagged = { [HANDLED_EXCEPTION]?: unknown };

let captured: boolean | undefined;

/**
 * Lets the recorder learn the class of the exception behind an error response, with no interceptor
 * and no filter of ours in the request's path.
 *
 * Every exception of an HTTP request (thrown by a guard, a pipe, an interceptor, the handler, a
 * middleware, the 404 handler or the adapter's error handler) goes through Nest's exception handler
 * before the exception filters run (assumption N1 of src/compat/nest-core.ts). The seam wraps it,
 * once per process, to note the exception on the request (the host's first argument) and then call
 * the original with the same arguments: responses, filters and errors are unchanged. The note is a
 * property on the request, read only when the response is an error (status of 500 or more, or 429).
 * When N1 does not hold, a warning says so once and errors are counted with `type="<none>"`.
 */
export function captureHandledExceptions(): void {
  if (captured !== undefined) return;
  captured = wrapExceptionsHandler((exception, request) => {
    (request as Tagged)[HANDLED_EXCEPTION] = exception;
  });
  if (!captured) new Logger('VezaMetrics').warn(exceptionClassNotCaptured(nestCoreVersion()));
}

/** The exception Nest handled for `request` (a Fastify request, or its raw Node request), if any. */
export function handledException(request: object): unknown {
  const own = (request as Tagged)[HANDLED_EXCEPTION];
  if (own !== undefined) return own;
  const raw = (request as { raw?: object }).raw;
  return raw ? (raw as Tagged)[HANDLED_EXCEPTION] : undefined;
}
