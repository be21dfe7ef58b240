import { ExceptionsHandler } from '@nestjs/core/exceptions/exceptions-handler.js';

/**
 * Where the exception Nest handled for a request is kept, on the request object (shared by every
 * copy of the library in the process, hence `Symbol.for`).
 */
export const HANDLED_EXCEPTION = Symbol.for('veza.metrics.handledException');

const PATCHED = Symbol.for('veza.metrics.exceptionsHandlerPatched');

type Tagged = { [HANDLED_EXCEPTION]?: unknown };

interface HostLike {
  getArgByIndex(index: number): unknown;
}

/**
 * Lets the recorder learn the class of the exception behind an error response, with no interceptor
 * and no filter of ours in the request's path.
 *
 * Every exception of an HTTP request (thrown by a guard, a pipe, an interceptor, the handler, a
 * middleware, the 404 handler or the adapter's error handler) goes through Nest's
 * `ExceptionsHandler#next(exception, host)` before the exception filters run. This wraps that
 * method, once per process, to note the exception on the request (the host's first argument) and
 * then call the original with the same arguments: responses, filters and errors are unchanged. The
 * note is a property on the request, read only when the response is an error (status of 500 or
 * more, or 429).
 */
export function captureHandledExceptions(): void {
  const proto = ExceptionsHandler.prototype as unknown as {
    next: (this: unknown, exception: unknown, host: HostLike) => unknown;
    [PATCHED]?: true;
  };
  if (proto[PATCHED]) return;
  const original = proto.next;
  proto.next = function next(this: unknown, exception: unknown, host: HostLike): unknown {
    try {
      const req = host.getArgByIndex(0);
      if (typeof req === 'object' && req !== null) (req as Tagged)[HANDLED_EXCEPTION] = exception;
    } catch {
      // Noting the exception is best effort; handling it is not ours to disturb.
    }
    return original.call(this, exception, host);
  };
  Object.defineProperty(proto, PATCHED, { value: true });
}

/** The exception Nest handled for `request` (a Fastify request, or its raw Node request), if any. */
export function handledException(request: object): unknown {
  const own = (request as Tagged)[HANDLED_EXCEPTION];
  if (own !== undefined) return own;
  const raw = (request as { raw?: object }).raw;
  return raw ? (raw as Tagged)[HANDLED_EXCEPTION] : undefined;
}
