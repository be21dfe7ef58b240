import { runInNewContext } from 'node:vm';
import { resolveOptions } from '../../src/veza-metrics.options';
import { checkKeys, isLabelName, isPlainObject } from '../../src/options/option-checks';
import { unknownClusterOption } from '../../src/veza-metrics.messages';

class PortConfig {
  port = 9100;
}

describe('isPlainObject', () => {
  it.each<[string, unknown]>([
    ['an empty object literal', {}],
    ['an object literal with keys', { port: 9100, host: '127.0.0.1' }],
    ['an object without a prototype', Object.create(null)],
    [
      "an object literal of another realm (a vm context, Jest's sandbox)",
      runInNewContext('({ port: 9464 })'),
    ],
    ['a structuredClone of an object literal', structuredClone({ port: 9464 })],
    [
      'an object without a prototype, with keys',
      Object.assign(Object.create(null) as object, { port: 9100 }),
    ],
  ])('accepts %s', (_what, value) => {
    expect(isPlainObject(value)).toBe(true);
  });

  it.each<[string, unknown]>([
    ['null', null],
    ['undefined', undefined],
    ['an array', [1, 2]],
    ['an empty array', []],
    ['a function', () => ({ port: 9100 })],
    ['a class', PortConfig],
    ['a class instance', new PortConfig()],
    ['an instance of an anonymous class', new (class {})()],
    ['an object whose prototype is another plain object', Object.create({ port: 9100 })],
    ['a Map', new Map([['port', 9100]])],
    ['a Set', new Set([9100])],
    ['a Date', new Date(0)],
    ['a URL', new URL('http://127.0.0.1:9091')],
    ['a string', 'port'],
    ['a number', 9100],
    ['a boolean', true],
  ])('rejects %s', (_what, value) => {
    expect(isPlainObject(value)).toBe(false);
  });
});

describe('options of another realm', () => {
  it('are accepted where a plain object is expected', () => {
    const options = runInNewContext(
      '({ metricsServer: { port: 9464 }, cardinality: { maxSeries: 100 } })',
    ) as object;
    const resolved = resolveOptions(options);
    expect(resolved.endpoint.server).toEqual({ port: 9464, host: '0.0.0.0' });
    expect(resolved.cardinality.maxSeries).toBe(100);
  });
});

describe('checkKeys', () => {
  it('returns when every key is known, or when there is none', () => {
    expect(() => checkKeys('metricsServer', { port: 9100, host: '0.0.0.0' }, ['port', 'host'])).not.toThrow();
    expect(() => checkKeys('metricsServer', {}, ['port', 'host'])).not.toThrow();
  });

  it('throws for an unknown key, naming the option and the allowed keys', () => {
    expect(() => checkKeys('metricsServer', { port: 9100, prot: 9100 }, ['port', 'host'])).toThrow(
      new Error('VezaMetricsModule: unknown option "metricsServer.prot"; expected one of port, host.'),
    );
  });

  it('names a top-level key alone when the option is empty', () => {
    expect(() => checkKeys('', { pth: '/metrics' }, ['path', 'registry'])).toThrow(
      new Error('VezaMetricsModule: unknown option "pth"; expected one of path, registry.'),
    );
  });

  it('reports the first unknown key', () => {
    expect(() => checkKeys('scrape', { b: 1, a: 2 }, ['timeoutMs'])).toThrow(
      new Error('VezaMetricsModule: unknown option "scrape.b"; expected one of timeoutMs.'),
    );
  });

  it('checks the keys of an object without a prototype', () => {
    const value = Object.assign(Object.create(null) as Record<string, unknown>, { hots: 'x' });
    expect(() => checkKeys('metricsServer', value, ['port', 'host'])).toThrow(
      new Error('VezaMetricsModule: unknown option "metricsServer.hots"; expected one of port, host.'),
    );
  });

  it('writes the message with the function it is given', () => {
    expect(() => checkKeys('', { timeout: 5 }, ['timeoutMs', 'aggregators'], unknownClusterOption)).toThrow(
      new Error('VezaMetrics cluster: unknown option "timeout"; expected one of timeoutMs, aggregators.'),
    );
  });
});

describe('isLabelName', () => {
  it.each(['service', 'env', '_private', 'a1', 'A_B'])('accepts %s', (name) => {
    expect(isLabelName(name)).toBe(true);
  });

  it.each(['', '1a', 'my-label', 'a b', '__name__', '__x', 'é'])('rejects %j', (name) => {
    expect(isLabelName(name)).toBe(false);
  });
});
