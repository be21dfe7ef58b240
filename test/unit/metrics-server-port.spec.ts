import { resolveOptions } from '../../src/veza-metrics.options';
import type { VezaMetricsModuleOptions } from '../../src';
import { startupError } from '../utils/module';

describe('metricsServer.port', () => {
  it.each([
    ['9464', 9464],
    ['0', 0],
    ['65535', 65535],
    ['09464', 9464],
    [9464, 9464],
  ])(
    'takes %j (a number, or its decimal digits as ConfigService reads them from the environment) as port %d',
    (port, expected) => {
      expect(resolveOptions({ metricsServer: { port } }).endpoint.server).toEqual({
        port: expected,
        host: '0.0.0.0',
      });
    },
  );

  const stringMessage = (shown: string): string =>
    `VezaMetricsModule: option "metricsServer.port" must be a TCP port from 0 to 65535 (0: any free port), as a number or a string of decimal digits such as "9464", got the string ${shown}.`;

  it.each([' 9464', '9464 ', '+9464', '-1', '9.4e3', '0x24', '9464.0', '', '65536', '123456', '٩٤٦٤'])(
    'refuses the string %j at start-up, saying which strings it takes',
    async (port) => {
      const options = { metricsServer: { port } } as VezaMetricsModuleOptions;
      const message = stringMessage(JSON.stringify(port));
      expect(() => resolveOptions(options)).toThrow(message);
      await expect(startupError(options)).resolves.toBe(message);
    },
  );

  it('keeps its message for values that are not strings', () => {
    expect(() => resolveOptions({ metricsServer: { port: 70_000 } })).toThrow(
      'VezaMetricsModule: option "metricsServer.port" must be a TCP port from 0 to 65535 (0: any free port), got number 70000.',
    );
  });
});
