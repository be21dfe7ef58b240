/**
 * Issue 21 item 4: every error-type label comes from one function, `errorClassName`: a real error
 * class's name, cut; anything else `OtherError`. A rethrown JSON body names nothing and takes no
 * place among the 50 extra classes, and no name is kept uncut.
 */
import { HttpException, NotFoundException } from '@nestjs/common';
import { runInNewContext } from 'node:vm';
import {
  ErrorTypes,
  MAX_EXTRA_ERROR_TYPES,
  OTHER_ERROR_TYPE,
  errorClassName,
} from '../../src/http/error-labels';
import { errorType } from '../../src/instrumentation/labels';
import { MAX_LABEL_VALUE_LENGTH } from '../../src/registry/series-guard';
import { collector, heapAfterGc } from '../utils/memory';

const MB = 1024 * 1024;

/** A parsed upstream error body: `{"constructor": {"name": "<name>"}}`. */
const upstream = (name: string): unknown => JSON.parse(JSON.stringify({ constructor: { name } }));

class PaymentDeclinedError extends Error {}
class CardExpiredError extends PaymentDeclinedError {}

describe('errorClassName: the one rule of error-type labels', () => {
  it.each<[string, () => unknown, string]>([
    ['an Error', () => new Error('x'), 'Error'],
    ['a TypeError', () => new TypeError('x'), 'TypeError'],
    ["Nest's NotFoundException", () => new NotFoundException(), 'NotFoundException'],
    ['a subclass of a subclass', () => new CardExpiredError(), 'CardExpiredError'],
    [
      'an object made from an error class prototype',
      () => Object.create(HttpException.prototype),
      'HttpException',
    ],
    ['an error of another realm', () => runInNewContext('new RangeError("x")'), 'RangeError'],
    ['a parsed JSON body naming a constructor', () => upstream('UpstreamError'), OTHER_ERROR_TYPE],
    ['a plain object with a long name', () => ({ name: 'x'.repeat(1e6) }), OTHER_ERROR_TYPE],
    ['an object without prototype', () => Object.create(null), OTHER_ERROR_TYPE],
    [
      'an object with a constructor function of its own',
      () => ({ constructor: class UpstreamError extends Error {} }),
      OTHER_ERROR_TYPE,
    ],
    ['an instance of a class that is not an error', () => new (class Upstream {})(), OTHER_ERROR_TYPE],
    [
      'an error whose own constructor property lies',
      () => Object.assign(new TypeError('x'), { constructor: { name: 'Lie' } }),
      'TypeError',
    ],
    ['a Proxy over an error', () => new Proxy(new TypeError('x'), {}), OTHER_ERROR_TYPE],
    [
      'an error whose prototype is a Proxy',
      () => Object.setPrototypeOf(new TypeError('x'), new Proxy(TypeError.prototype, {})) as unknown,
      OTHER_ERROR_TYPE,
    ],
    [
      'a Proxy whose getPrototypeOf throws',
      () =>
        new Proxy(
          {},
          {
            getPrototypeOf() {
              throw new Error('trap');
            },
          },
        ),
      OTHER_ERROR_TYPE,
    ],
    [
      'an error whose class name is a throwing getter',
      () => {
        const C = class extends Error {};
        Object.defineProperty(C, 'name', {
          get() {
            throw new Error('getter');
          },
        });
        return new C();
      },
      OTHER_ERROR_TYPE,
    ],
    [
      'an error whose prototype constructor is not its class',
      () => {
        const C = class extends Error {};
        Object.defineProperty(C.prototype, 'constructor', {
          value: { name: 'Forged', prototype: C.prototype },
        });
        return new C();
      },
      OTHER_ERROR_TYPE,
    ],
    ['an anonymous error class', () => new (class extends Error {})(), OTHER_ERROR_TYPE],
    [
      'an error class named with spaces',
      () => {
        const C = class extends Error {};
        Object.defineProperty(C, 'name', { value: 'not a class name' });
        return new C();
      },
      OTHER_ERROR_TYPE,
    ],
    ['a string', () => 'boom', OTHER_ERROR_TYPE],
    ['a number', () => 42, OTHER_ERROR_TYPE],
    ['null', () => null, OTHER_ERROR_TYPE],
    ['undefined', () => undefined, OTHER_ERROR_TYPE],
    ['a symbol', () => Symbol('x'), OTHER_ERROR_TYPE],
  ])('%s', (_what, make, expected) => {
    expect(errorClassName(make())).toBe(expected);
  });

  it(`cuts a real class's long name to ${MAX_LABEL_VALUE_LENGTH} units, in memory of its own`, () => {
    const C = class extends Error {};
    Object.defineProperty(C, 'name', { value: `Long${'x'.repeat(MB)}` });
    const name = errorClassName(new C());
    expect(name).toBe(`Long${'x'.repeat(MAX_LABEL_VALUE_LENGTH - 4)}`);
  });

  it('the decorators read a short code first, then the same rule (a code equal to OtherError is escaped)', () => {
    expect(errorType(Object.assign(new Error('dup'), { code: 'ER_DUP_ENTRY' }))).toBe('ER_DUP_ENTRY');
    expect(errorType({ code: 23505 })).toBe('23505');
    expect(errorType(new CardExpiredError())).toBe('CardExpiredError');
    expect(errorType(upstream('x'.repeat(MB)))).toBe(OTHER_ERROR_TYPE);
    expect(errorType('a string')).toBe(OTHER_ERROR_TYPE);
    expect(errorType({ code: 'OtherError' })).toBe('\\OtherError');
    expect(errorType({ code: '__overflow__' })).toBe('\\__overflow__');
  });
});

describe('ErrorTypes: the bounded type of veza_errors_total (HTTP, RPC, GraphQL)', () => {
  it(`60 rethrown upstream bodies naming 1 MB constructors: all OtherError, none takes one of the ${MAX_EXTRA_ERROR_TYPES} places, and the heap keeps none of them`, () => {
    const gc = collector();
    const types = new ErrorTypes();
    // Warm up the code paths before measuring.
    types.typeOf(upstream('warm'));
    const before = heapAfterGc(gc);
    const seen = new Set<string>();
    for (let i = 0; i < 60; i++) seen.add(types.typeOf(upstream(`${i}${'x'.repeat(MB)}`)));
    const grown = heapAfterGc(gc) - before;
    expect([...seen]).toEqual([OTHER_ERROR_TYPE]);
    // Before: every name kept uncut, 50 of them (+50 MB at least).
    expect(grown).toBeLessThan(4 * MB);
    // The application's own classes still have their names.
    for (let i = 0; i < MAX_EXTRA_ERROR_TYPES; i++) {
      const named = { [`AppError${i}`]: class extends Error {} }[`AppError${i}`] as new () => Error;
      expect(types.typeOf(new named())).toBe(`AppError${i}`);
    }
    expect(types.typeOf(new PaymentDeclinedError())).toBe(OTHER_ERROR_TYPE);
    expect(types.typeOf(new TypeError('x'))).toBe('TypeError');
  });

  it('a class with a 1 MB name takes a place under its cut name only', () => {
    const gc = collector();
    const types = new ErrorTypes();
    const before = heapAfterGc(gc);
    const names: string[] = [];
    for (let i = 0; i < 20; i++) {
      const C = class extends Error {};
      Object.defineProperty(C, 'name', { value: `E${i}${'x'.repeat(MB)}` });
      names.push(types.typeOf(new C()));
    }
    const grown = heapAfterGc(gc) - before;
    expect(names.every((n) => n.length === MAX_LABEL_VALUE_LENGTH)).toBe(true);
    expect(new Set(names).size).toBe(20);
    expect(grown).toBeLessThan(4 * MB);
  });
});
