/**
 * The `Accept` headers Prometheus versions send, read from github.com/prometheus/prometheus at each
 * tag (docs/native-histograms.md, "Switching them on in Prometheus"), and the exposition format
 * `/metrics` answers each with: protobuf to every Prometheus that asks for native histograms, what it
 * answered before to every other.
 */
import { negotiate } from '../../src/endpoint/scrape-handler';

const PROTO = 'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited';

/** 3.x's `acceptHeader` (scrape/scrape.go at v3.8.0): weights from 0.(n+1) down, escaping on the 1.0.0 text types. */
function v3Header(protocols: string[], escaping: string): string {
  const headers: Record<string, string> = {
    PrometheusProto: PROTO,
    OpenMetricsText1_0_0: `application/openmetrics-text;version=1.0.0;escaping=${escaping}`,
    OpenMetricsText0_0_1: 'application/openmetrics-text;version=0.0.1',
    PrometheusText1_0_0: `text/plain;version=1.0.0;escaping=${escaping}`,
    PrometheusText0_0_4: 'text/plain;version=0.0.4',
  };
  let weight = Object.keys(headers).length + 1;
  return [...protocols.map((p) => `${headers[p]};q=0.${weight--}`), `*/*;q=0.${weight}`].join(',');
}
const V3_DEFAULT = [
  'OpenMetricsText1_0_0',
  'OpenMetricsText0_0_1',
  'PrometheusText1_0_0',
  'PrometheusText0_0_4',
];
const V3_PROTO_FIRST = ['PrometheusProto', ...V3_DEFAULT];

describe('the format /metrics answers the Accept of each Prometheus version', () => {
  it.each([
    [
      '2.42, native histograms on (scrapeAcceptHeaderWithProtobuf, v2.42.0)',
      `${PROTO},application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1`,
      'protobuf',
    ],
    [
      '2.49, native histograms on: */*;q=1 behind protobuf;q=0.5 (a bug fixed in 2.50)',
      `${PROTO};q=0.5,application/openmetrics-text;version=1.0.0;q=0.4,application/openmetrics-text;version=0.0.1;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=1`,
      'protobuf',
    ],
    [
      '2.50 to 2.55, native histograms on',
      `${PROTO};q=0.5,application/openmetrics-text;version=1.0.0;q=0.4,application/openmetrics-text;version=0.0.1;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1`,
      'protobuf',
    ],
    [
      '3.8, scrape_native_histograms (escaping allow-utf-8)',
      v3Header(V3_PROTO_FIRST, 'allow-utf-8'),
      'protobuf',
    ],
    [
      '3.8, scrape_native_histograms (escaping underscores)',
      v3Header(V3_PROTO_FIRST, 'underscores'),
      'protobuf',
    ],
    [
      '2.42, native histograms off (scrapeAcceptHeader, v2.42.0)',
      'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1',
      'openmetrics',
    ],
    ['3.8, native histograms off', v3Header(V3_DEFAULT, 'allow-utf-8'), 'openmetrics'],
  ])('%s', (_version, accept, format) => {
    expect(negotiate(accept)).toBe(format);
  });
});
