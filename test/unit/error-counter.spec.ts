import { NotFoundException } from '@nestjs/common';
import { Counter, Registry } from 'prom-client';
import { MAX_EXTRA_ERROR_TYPES } from '../../src/http/error-labels';
import { ErrorCounter } from '../../src/http/error-counter';

/** The one `veza_errors_total` writer of the HTTP and RPC recorders. */
describe('ErrorCounter', () => {
  const make = () => {
    const registry = new Registry();
    const errors = new Counter({
      name: 'veza_errors_total',
      help: 'Total number of errors',
      labelNames: ['type', 'severity'],
      registers: [registry],
    });
    return { registry, counter: new ErrorCounter(() => errors) };
  };

  it('counts each (type, severity) in its own series, exactly', async () => {
    const { registry, counter } = make();
    for (let i = 0; i < 3; i++) counter.count(counter.typeOf(new TypeError('x')), 'critical');
    for (let i = 0; i < 2; i++) counter.count(counter.typeOf(new NotFoundException()), 'error');
    counter.count(counter.typeOf(undefined), 'error');
    const text = await registry.getSingleMetricAsString('veza_errors_total');
    expect(text.split('\n').filter((l) => !l.startsWith('#'))).toEqual([
      'veza_errors_total{type="TypeError",severity="critical"} 3',
      'veza_errors_total{type="NotFoundException",severity="error"} 2',
      'veza_errors_total{type="<none>",severity="error"} 1',
    ]);
  });

  it(`keeps the series bounded: past ${MAX_EXTRA_ERROR_TYPES} classes of the application, OtherError`, async () => {
    const { registry, counter } = make();
    for (let i = 0; i < MAX_EXTRA_ERROR_TYPES + 30; i++) {
      const named = { [`Error${i}`]: class extends Error {} }[`Error${i}`] as new () => Error;
      counter.count(counter.typeOf(new named()), 'critical');
    }
    const lines = (await registry.getSingleMetricAsString('veza_errors_total'))
      .split('\n')
      .filter((l) => !l.startsWith('#'));
    expect(lines).toHaveLength(MAX_EXTRA_ERROR_TYPES + 1);
    expect(lines).toContain('veza_errors_total{type="OtherError",severity="critical"} 30');
  });
});
