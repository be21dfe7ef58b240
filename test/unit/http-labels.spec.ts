import { BadGatewayException, HttpException, NotFoundException } from '@nestjs/common';
import { ThrottlerException } from '@nestjs/throttler';
import { Counter, Histogram, Registry } from 'prom-client';
import {
  defaultErrorSeverity,
  ErrorTypes,
  MAX_EXTRA_ERROR_TYPES,
  NO_EXCEPTION_ERROR_TYPE,
  OTHER_ERROR_TYPE,
} from '../../src/http/error-labels';
import {
  DEFAULT_LIMIT_TYPE,
  isThrottlerException,
  limitTypeOf,
  throttlerNames,
} from '../../src/http/rate-limit';
import { RequestClock } from '../../src/http/request-clock';
import { OTHER_METHOD, SeriesTable } from '../../src/http/route-series';

describe('ErrorTypes', () => {
  it("names Nest's and JavaScript's exception classes, and the first classes of the application", () => {
    const types = new ErrorTypes();
    class TrackStoreError extends Error {}
    expect(types.typeOf(new NotFoundException())).toBe('NotFoundException');
    expect(types.typeOf(new HttpException('x', 500))).toBe('HttpException');
    expect(types.typeOf(new TypeError('x'))).toBe('TypeError');
    expect(types.typeOf(new TrackStoreError())).toBe('TrackStoreError');
    expect(types.typeOf(undefined)).toBe(NO_EXCEPTION_ERROR_TYPE);
    expect(types.typeOf('a string')).toBe(OTHER_ERROR_TYPE);
    expect(types.typeOf(Object.create(null))).toBe(OTHER_ERROR_TYPE);
  });

  it(`keeps the label bounded: past ${MAX_EXTRA_ERROR_TYPES} classes of its own, the application's new classes share "${OTHER_ERROR_TYPE}"`, () => {
    const types = new ErrorTypes();
    const classOf = (i: number) =>
      ({ [`Error${i}`]: class extends Error {} })[`Error${i}`] as new () => Error;
    const named = Array.from({ length: MAX_EXTRA_ERROR_TYPES + 20 }, (_, i) =>
      types.typeOf(new (classOf(i))()),
    );
    expect(new Set(named).size).toBe(MAX_EXTRA_ERROR_TYPES + 1);
    expect(named.slice(0, MAX_EXTRA_ERROR_TYPES)).toEqual(
      Array.from({ length: MAX_EXTRA_ERROR_TYPES }, (_, i) => `Error${i}`),
    );
    expect(named.slice(MAX_EXTRA_ERROR_TYPES)).toEqual(Array(20).fill(OTHER_ERROR_TYPE));
    // Classes already named, and Nest's own, keep their names.
    expect(types.typeOf(new (classOf(3))())).toBe('Error3');
    expect(types.typeOf(new BadGatewayException())).toBe('BadGatewayException');
  });

  it('gives severity critical to unexpected exceptions and error to those the application chose', () => {
    expect(defaultErrorSeverity({ status: 500, type: 'Error', exception: new Error() })).toBe('critical');
    expect(
      defaultErrorSeverity({
        status: 502,
        type: 'BadGatewayException',
        exception: new BadGatewayException(),
      }),
    ).toBe('error');
    expect(defaultErrorSeverity({ status: 500, type: NO_EXCEPTION_ERROR_TYPE, exception: undefined })).toBe(
      'error',
    );
  });
});

describe('rate limits', () => {
  it("names the throttler from @nestjs/throttler's Retry-After headers, in its configured case", () => {
    const names = throttlerNames([
      { name: 'Short', ttl: 1, limit: 1 },
      { name: 'long', ttl: 1, limit: 1 },
      { ttl: 1, limit: 1 },
    ]);
    expect(limitTypeOf(['content-type', 'retry-after'], names)).toBe(DEFAULT_LIMIT_TYPE);
    expect(limitTypeOf(['x-ratelimit-limit-short', 'retry-after-short'], names)).toBe('Short');
    expect(limitTypeOf(['Retry-After-long'], names)).toBe('long');
    expect(limitTypeOf(['retry-after-unknown'], names)).toBe('unknown');
    expect(limitTypeOf(['content-type'], names)).toBeUndefined();
    expect(throttlerNames({ throttlers: [{ name: 'a' }] })).toEqual(new Map([['a', 'a']]));
    expect(throttlerNames(undefined)).toEqual(new Map());
  });

  it('recognizes ThrottlerException and its subclasses by class name', () => {
    class CustomThrottled extends ThrottlerException {}
    expect(isThrottlerException(new ThrottlerException())).toBe(true);
    expect(isThrottlerException(new CustomThrottled())).toBe(true);
    expect(isThrottlerException(new HttpException('x', 429))).toBe(false);
    expect(isThrottlerException(undefined)).toBe(false);
  });
});

describe('SeriesTable', () => {
  const make = (byCode: boolean) => {
    const registry = new Registry();
    const requests = new Counter({
      name: 'r',
      help: 'r',
      labelNames: ['method', 'endpoint', 'status'],
      registers: [registry],
    });
    const duration = new Histogram({
      name: 'd',
      help: 'd',
      labelNames: ['method', 'endpoint'],
      buckets: [1],
      registers: [registry],
    });
    const excluded = { paths: new Set(['/metrics']), routes: new Set(['GET /health', 'HEAD /health']) };
    return { registry, table: new SeriesTable(requests, duration, byCode, excluded) };
  };

  it('resolves each (method, endpoint) once and applies the exclusions by path and by method', () => {
    const { table } = make(false);
    expect(table.get('GET', '/x')).toBe(table.get('GET', '/x'));
    expect(table.get('GET', '/metrics').excluded).toBe(true);
    expect(table.get('POST', '/metrics').excluded).toBe(true);
    expect(table.get('HEAD', '/health').excluded).toBe(true);
    expect(table.get('POST', '/health').excluded).toBe(false);
    expect(table.get('BREW', '/x').method).toBe(OTHER_METHOD);
  });

  it.each([
    [false, ['2xx', '2xx', '4xx', '5xx', 'other', 'other', '4xx']],
    [true, ['200', '204', '499', '503', 'other', 'other', '499']],
  ])('labels statuses by class or by code (byCode: %s)', async (byCode, expected) => {
    const { registry, table } = make(byCode);
    const series = table.get('GET', '/x');
    for (const status of [200, 204, 499, 503, 99, 600, 499]) series.count(status);
    const text = await registry.getSingleMetricAsString('r');
    const counted = Object.fromEntries(
      [...text.matchAll(/status="([^"]+)"\} (\d+)/g)].map((m) => [m[1], Number(m[2])]),
    );
    const want: Record<string, number> = {};
    for (const s of expected) want[s] = (want[s] ?? 0) + 1;
    expect(counted).toEqual(want);
  });
});

describe('RequestClock', () => {
  it('times requests in reusable slots and grows past any number in flight', async () => {
    const clock = new RequestClock();
    const slots = Array.from({ length: 300 }, () => clock.start());
    expect(new Set(slots).size).toBe(300);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const elapsedMs = clock.stop(slots[0]);
    expect(elapsedMs).toBeGreaterThanOrEqual(19);
    expect(elapsedMs).toBeLessThan(1000);
    for (const slot of slots.slice(1)) clock.stop(slot);
    // Freed slots are taken again before the clock grows.
    const again = Array.from({ length: 300 }, () => clock.start());
    expect(new Set(again)).toEqual(new Set(slots));
  });
});
