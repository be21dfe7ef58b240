import { VezaMetric } from '../catalog/catalog';
import { SUCCESS } from '../instrumentation/instrument';
import { gaugeCell } from '../instrumentation/cells';
import { argument, quotedOneOf } from '../instrumentation/decorator-options';
import { instrumentMethod } from '../instrumentation/instrument-method';

type SteppedGauge = typeof VezaMetric.LiveStreamsActive | typeof VezaMetric.LiveStreamViewers;

function stepOnSuccess(
  name: string,
  change: string,
  up: string,
  down: string,
  metric: SteppedGauge,
): MethodDecorator {
  const decorator = `@${name}(${JSON.stringify(change)})`;
  return instrumentMethod(decorator, (at) => {
    const increments = argument(at, 'change', quotedOneOf([up, down]), change) === up;
    return {
      decorator,
      name,
      identity: name,
      timed: false,
      needsArgs: false,
      writes: [metric],
      steps: [metric],
      build: ({ metrics }) => {
        const gauge = gaugeCell(metrics.get(metric));
        return {
          end(outcome) {
            if (outcome !== SUCCESS) return;
            if (increments) gauge.inc();
            else gauge.dec();
          },
        };
      },
    };
  });
}

/**
 * Moves `veza_live_streams_active` when the method succeeds: up by one for `'start'`, down for `'end'`.
 *
 * @example
 * ```ts
 * @TrackLiveStream('start')
 * async goLive(streamId: string): Promise<void> { ... }
 * ```
 */
export function TrackLiveStream(change: 'start' | 'end'): MethodDecorator {
  return stepOnSuccess('TrackLiveStream', change, 'start', 'end', VezaMetric.LiveStreamsActive);
}

/**
 * Moves the viewers across all live streams (`veza_live_stream_viewers_total`, or
 * `veza_live_stream_viewers` under `naming: 'strict'`) when the method succeeds: up by one for
 * `'join'`, down for `'leave'`. When a stream ends with its viewers, read the total at scrape time
 * instead, with `@GaugeSource(VezaMetric.LiveStreamViewers)`.
 *
 * @example
 * ```ts
 * @TrackLiveViewers('join')
 * join(streamId: string, userId: string): void { ... }
 * ```
 */
export function TrackLiveViewers(change: 'join' | 'leave'): MethodDecorator {
  return stepOnSuccess('TrackLiveViewers', change, 'join', 'leave', VezaMetric.LiveStreamViewers);
}
