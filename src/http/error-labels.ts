import * as common from '@nestjs/common';
import { HttpException } from '@nestjs/common';
import { types } from 'node:util';
import { detached, MAX_LABEL_VALUE_LENGTH } from '../registry/series-guard';

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

/** A class name as JavaScript spells an identifier (Unicode letters, digits, `_`, `$`). */
const IDENTIFIER = /^[\p{ID_Start}_$][\p{ID_Continue}_$\u200c\u200d]*$/u;
/** How far up a prototype chain `Error.prototype` is looked for (real chains are a few links long). */
const MAX_PROTOTYPE_DEPTH = 32;

/** An own data property of `object` (never a getter, which could run code or build a long string). */
function ownValue(object: object, key: string): unknown {
  const descriptor = Object.getOwnPropertyDescriptor(object, key);
  return descriptor !== undefined && 'value' in descriptor ? descriptor.value : undefined;
}

/** True when `prototype`'s chain reaches `Error.prototype` within {@link MAX_PROTOTYPE_DEPTH} links (no Proxy on the way). */
function reachesError(prototype: object): boolean {
  let p: object | null = prototype;
  for (let depth = 0; p !== null && depth < MAX_PROTOTYPE_DEPTH; depth++) {
    if (p === Error.prototype) return true;
    if (types.isProxy(p)) return false;
    p = Object.getPrototypeOf(p) as object | null;
  }
  return false;
}

/**
 * The class name of a thrown value, as a label: the one way every error-type label is derived
 * (`veza_errors_total{type}` of HTTP, RPC and `@CountErrors()`, GraphQL's `error_type`,
 * `@TrackDbQuery()`'s `error_type` when there is no short code).
 *
 * An error is an object whose prototype chain reaches `Error.prototype`, or one built by an Error
 * constructor of another realm (`util.types.isNativeError`). Its class is its prototype's own
 * `constructor`, kept only when it is a function whose own `prototype` is that very prototype; its
 * name is that function's own `name` (a data property: a getter is not run), kept when it is a
 * JavaScript identifier once cut to {@link MAX_LABEL_VALUE_LENGTH} units. The value's own properties
 * (`constructor`, `name`) are never read, so a parsed JSON body rethrown
 * (`{"constructor": {"name": "<1 MB>"}}`) names nothing. Anything else is {@link OTHER_ERROR_TYPE}:
 * a primitive, a plain or null-prototype object, a Proxy, a class with no name or a name that is not
 * an identifier, an object whose prototype cannot be read. Never throws.
 */
export function errorClassName(error: unknown): string {
  if (typeof error !== 'object' || error === null) return OTHER_ERROR_TYPE;
  try {
    if (types.isProxy(error)) return OTHER_ERROR_TYPE;
    const prototype = Object.getPrototypeOf(error) as object | null;
    if (prototype === null || types.isProxy(prototype)) return OTHER_ERROR_TYPE;
    if (!(reachesError(prototype) || types.isNativeError(error))) return OTHER_ERROR_TYPE;
    const constructor = ownValue(prototype, 'constructor');
    if (typeof constructor !== 'function' || types.isProxy(constructor)) return OTHER_ERROR_TYPE;
    if (ownValue(constructor, 'prototype') !== prototype) return OTHER_ERROR_TYPE;
    const name = ownValue(constructor, 'name');
    if (typeof name !== 'string' || name === '') return OTHER_ERROR_TYPE;
    const cut = name.length > MAX_LABEL_VALUE_LENGTH ? name.slice(0, MAX_LABEL_VALUE_LENGTH) : name;
    if (!IDENTIFIER.test(cut) || cut === OTHER_ERROR_TYPE) return OTHER_ERROR_TYPE;
    // A copy of its own: a cut of a long name would keep the whole name alive.
    return cut === name ? name : detached(cut);
  } catch {
    return OTHER_ERROR_TYPE;
  }
}

/**
 * Turns exceptions into a bounded `type` label: the class name ({@link errorClassName}) for Nest's
 * and JavaScript's classes and for the first {@link MAX_EXTRA_ERROR_TYPES} other classes seen,
 * {@link OTHER_ERROR_TYPE} after that, so that no exception can add series without limit. Only real
 * classes take a place (a thrown plain object is `OtherError`), each name cut before it is kept.
 */
export class ErrorTypes {
  private readonly extra = new Set<string>();

  typeOf(exception: unknown): string {
    if (exception === undefined) return NO_EXCEPTION_ERROR_TYPE;
    const name = errorClassName(exception);
    if (name === OTHER_ERROR_TYPE || KNOWN_TYPES.has(name) || this.extra.has(name)) return name;
    if (this.extra.size >= MAX_EXTRA_ERROR_TYPES) return OTHER_ERROR_TYPE;
    this.extra.add(name);
    return name;
  }
}
