import { resolveOptions } from '../../src/veza-metrics.options';

describe('option health', () => {
  it('is on by default, 500 ms slow, 100 keys', () => {
    expect(resolveOptions({}).health).toEqual({ enabled: true, slowMs: 500, maxServices: 100 });
    expect(resolveOptions({ health: true }).health).toEqual({ enabled: true, slowMs: 500, maxServices: 100 });
  });

  it('false turns it off; an object sets each value', () => {
    expect(resolveOptions({ health: false }).health.enabled).toBe(false);
    expect(resolveOptions({ health: { slowMs: 0, maxServices: 3 } }).health).toEqual({
      enabled: true,
      slowMs: 0,
      maxServices: 3,
    });
    expect(resolveOptions({ health: { enabled: false } }).health.enabled).toBe(false);
  });

  it('refuses what it cannot use, naming the option', () => {
    expect(() => resolveOptions({ health: { slowMs: -1 } })).toThrow(/"health\.slowMs"/);
    expect(() => resolveOptions({ health: { maxServices: 0 } })).toThrow(/"health\.maxServices"/);
    expect(() => resolveOptions({ health: 'on' as never })).toThrow(
      /"health" must be true, false or \{ enabled\?, slowMs\?, maxServices\? \}/,
    );
    expect(() => resolveOptions({ health: { slow: 1 } as never })).toThrow(/unknown option "health\.slow"/);
  });
});
