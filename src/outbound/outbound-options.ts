import {
  boolean,
  check,
  defaulted,
  integer,
  object,
  record,
  shapeOf,
  toggle,
  type Rule,
} from '../options/option-schema';

/** Option `outbound`: the application's outbound HTTP requests (global `fetch`/undici, `node:http`/`node:https`). */
export interface OutboundMetricsOptions {
  /** Record outbound requests at all. @defaultValue `true` */
  enabled?: boolean;
  /**
   * Names for hosts in the `host` label, by `host:port` or by host name alone, e.g.
   * `{ 'api.stripe.com': 'stripe', '10.0.0.7:8080': 'billing' }`. A named host does not count
   * towards `maxHosts`.
   * @defaultValue `{}`
   */
  hosts?: Record<string, string>;
  /**
   * How many distinct hosts (not named in `hosts`) the `host` label takes; requests to later ones are
   * recorded under `host="<other>"`.
   * @defaultValue `100`
   */
  maxHosts?: number;
}

/** Option `outbound` once resolved. */
export interface ResolvedOutboundOptions {
  readonly enabled: boolean;
  readonly hosts: Readonly<Record<string, string>>;
  readonly maxHosts: number;
}

/** Option `outbound`: `true` (or not given), `false`, or `{ enabled?, hosts?, maxHosts? }`. */
export const outboundRule: Rule<ResolvedOutboundOptions> = toggle(
  object(
    shapeOf<OutboundMetricsOptions>()({
      enabled: boolean(true),
      hosts: defaulted(
        record(
          check<string>((v) => typeof v === 'string' && v.length > 0, 'a non-empty string'),
          'an object of hosts to names',
        ),
        {},
      ),
      maxHosts: integer(1, 10_000, 100),
    }),
    '{ enabled?, hosts?, maxHosts? }',
  ),
  'true, false or { enabled?, hosts?, maxHosts? }',
);
