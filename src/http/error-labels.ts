import * as common from '@nestjs/common';
import { HttpException } from '@nestjs/common';

/** The `type` of `veza_errors_total` for exception classes beyond the bounded set. */
export const OTHER_ERROR_TYPE = 'OtherError';
/** The `type` of `veza_errors_total` for an error response no exception led to (the handler set a 5xx itself). */
export const NO_EXCEPTION_ERROR_TYPE = '<none>';
/** How many class names, beyond Nest's and JavaScript's own, one application may label errors with. */
export const MAX_EXTRA_ERROR_TYPES = 50;

/** `severity` of an error response: `critical` for exceptions Nest did not expect, `error` otherwise. */
export type ErrorSeverityFn = (error: { status: number; type: string; exception: unknown }) => string;

/**
 * The default `severity` of `veza_errors_total`: `critical` when the response comes from an
 * exception that is not an `HttpException` (a bug or a failing dependency, answered 500 by Nest),
 * `error` when the application chose the status (an `HttpException` such as
 * `ServiceUnavailableException`, or a 5xx it set itself).
 */
export const defaultErrorSeverity: ErrorSeverityFn = ({ exception }) =>
  exception === undefined || exception instanceof HttpException ? 'error' : 'critical';

const BUILT_IN_ERRORS = [
  'Error',
  'TypeError',
  'RangeError',
  'ReferenceError',
  'SyntaxError',
  'EvalError',
  'URIError',
  'AggregateError',
];

/** Nest's own exception classes (every `HttpException` exported by `@nestjs/common`) and JavaScript's errors. */
const KNOWN_TYPES: ReadonlySet<string> = new Set([
  'HttpException',
  ...BUILT_IN_ERRORS,
  ...Object.entries(common)
    .filter(
      ([, value]) =>
        typeof value === 'function' && (value as { prototype?: unknown }).prototype instanceof HttpException,
    )
    .map(([name]) => name),
]);

/**
 * Turns exceptions into a bounded `type` label: the class name for Nest's and JavaScript's classes
 * and for the first {@link MAX_EXTRA_ERROR_TYPES} other classes seen, {@link OTHER_ERROR_TYPE}
 * after that, so that no exception can add series without limit.
 */
export class ErrorTypes {
  private readonly extra = new Set<string>();

  typeOf(exception: unknown): string {
    if (exception === undefined) return NO_EXCEPTION_ERROR_TYPE;
    if (typeof exception !== 'object' || exception === null) return OTHER_ERROR_TYPE;
    const name = (exception as { constructor?: { name?: unknown } }).constructor?.name;
    if (typeof name !== 'string' || name === '') return OTHER_ERROR_TYPE;
    if (KNOWN_TYPES.has(name) || this.extra.has(name)) return name;
    if (this.extra.size >= MAX_EXTRA_ERROR_TYPES) return OTHER_ERROR_TYPE;
    this.extra.add(name);
    return name;
  }
}
