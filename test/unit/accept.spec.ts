/**
 * Issue #21, item 14: the `Accept` parser (RFC 9110 §12.5.1) and the format negotiation of every
 * scrape (the app's `/metrics`, the metrics server, the cluster primary share `negotiate`). Before,
 * a substring test gave OpenMetrics to `application/openmetrics-text;q=0, text/plain` and to
 * `x-application/openmetrics-textual`.
 */
import {
  MAX_ACCEPT_LENGTH,
  MAX_ACCEPT_RANGES,
  negotiateFormat,
  parseAccept,
  type OfferedFormat,
} from '../../src/endpoint/accept';
import { negotiate } from '../../src/endpoint/scrape-handler';
import type { ExpositionFormat } from '../../src/exposition/render-exposition';

/** A range as the table writes it: `type/subtype {params} q`. */
const shown = (header: string | string[] | undefined): string[] =>
  parseAccept(header).map(
    (r) =>
      `${r.type}/${r.subtype}${[...r.params].map(([k, v]) => ` ${k}=${v}`).join('')} q${r.weight} #${r.index}`,
  );

describe('parseAccept', () => {
  it.each<[string, string | string[] | undefined, string[]]>([
    ['no header', undefined, []],
    ['an empty header', '', []],
    ['a type', 'text/plain', ['text/plain q1000 #0']],
    [
      'names in any case, values as given',
      'TEXT/Plain; Version=0.0.4; A=B',
      ['text/plain version=0.0.4 a=B q1000 #0'],
    ],
    ['*/*', '*/*;q=0.1', ['*/* q100 #0']],
    ['type/*', 'application/*', ['application/* q1000 #0']],
    ['*/subtype is malformed', '*/plain, text/plain', ['text/plain q1000 #0']],
    ['three decimals', 'text/plain;q=0.123', ['text/plain q123 #0']],
    ['four decimals are malformed', 'text/plain;q=0.1234', []],
    ['q=1.000', 'a/b;q=1.000', ['a/b q1000 #0']],
    ['q=1. and q=0.', 'a/b;q=1., c/d;q=0.', ['a/b q1000 #0', 'c/d q0 #1']],
    ['q=0', 'a/b;q=0', ['a/b q0 #0']],
    ['Q in capitals', 'a/b;Q=0.5', ['a/b q500 #0']],
    ['q above 1', 'a/b;q=1.001, c/d;q=2', []],
    ['negative q', 'a/b;q=-1', []],
    ['q without digits', 'a/b;q=, c/d;q=.5', []],
    ['a quoted q', 'a/b;q="0.5"', []],
    [
      'whitespace around separators',
      ' text/plain ; version=0.0.4\t;\tq=0.5 , a/b ',
      ['text/plain version=0.0.4 q500 #0', 'a/b q1000 #1'],
    ],
    ['whitespace inside a type', 'text / plain, a/b', ['a/b q1000 #0']],
    ['text after the subtype', 'text/plain x, a/b', ['a/b q1000 #0']],
    ['a parameter without a value', 'text/plain;a, text/plain;b=, text/plain;, a/b', ['a/b q1000 #0']],
    ['whitespace around =', 'text/plain;a =b, text/plain;a= b, a/b', ['a/b q1000 #0']],
    ['a type without subtype', 'text, text/, /plain, a/b', ['a/b q1000 #0']],
    [
      'a quoted string with a comma',
      'text/plain;a="x,y";q=0.5, a/b',
      ['text/plain a=x,y q500 #0', 'a/b q1000 #1'],
    ],
    ['a quoted pair', 'text/plain;a="x\\"y\\\\"', ['text/plain a=x"y\\ q1000 #0']],
    ['an unterminated quoted string', 'text/plain;a="x, a/b', []],
    ['a control character in a quoted string', 'text/plain;a="x\u0001", a/b', ['a/b q1000 #0']],
    ['a malformed range before a quoted comma', 'text/plain;b c="x,y", a/b', ['a/b q1000 #0']],
    ['empty list elements', ',, text/plain ,,', ['text/plain q1000 #0']],
    ['extension parameters after the weight', 'a/b;q=0.5;ext=1;q=0', ['a/b q500 #0']],
    ['a parameter given twice: the first', 'a/b;v=1;v=2', ['a/b v=1 q1000 #0']],
    ['non-token characters', 'a(b)/c, a/b@c, a/b', ['a/b q1000 #0']],
    ['non-ASCII', 'tèxt/plain, a/b', ['a/b q1000 #0']],
    ['several header lines', ['text/plain;q=0.5', 'a/b'], ['text/plain q500 #0', 'a/b q1000 #1']],
  ])('%s', (_what, header, expected) => {
    expect(shown(header)).toEqual(expected);
  });

  describe('on a hostile header', () => {
    it(`reads ${MAX_ACCEPT_RANGES} ranges of 100,000, valid or not`, () => {
      const header = 'a/b,'.repeat(100_000) + 'application/openmetrics-text';
      expect(parseAccept(header)).toHaveLength(MAX_ACCEPT_RANGES);
      expect(parseAccept(',x,'.repeat(MAX_ACCEPT_RANGES) + 'a/b')).toEqual([]);
    });

    it(`reads ${MAX_ACCEPT_LENGTH} characters: a range cut by the cap is ignored, and everything after it`, () => {
      const long = `a/b;p=${'x'.repeat(MAX_ACCEPT_LENGTH)}, c/d`;
      expect(shown(long)).toEqual([]);
      const filler = `a/b;p=${'x'.repeat(MAX_ACCEPT_LENGTH - 'a/b;p='.length - ',c/d'.length)}`;
      // Ends exactly at the cap: kept.
      expect(shown(`${filler},c/d`)).toEqual([`a/b p=${filler.slice(6)} q1000 #0`, 'c/d q1000 #1']);
      // One more character: c/d runs past the cap.
      expect(shown(`${filler},c/de`)).toEqual([`a/b p=${filler.slice(6)} q1000 #0`]);
      // So does a quoted string left open at the cap.
      expect(shown(`a/b, c/d;p="${'x'.repeat(MAX_ACCEPT_LENGTH)}"`)).toEqual(['a/b q1000 #0']);
    });

    it('reads header lines up to the cap, however many there are', () => {
      const lines = Array.from({ length: 100_000 }, () => 'a/b');
      expect(parseAccept(lines)).toHaveLength(MAX_ACCEPT_RANGES);
      expect(parseAccept(['x'.repeat(MAX_ACCEPT_LENGTH + 1), 'a/b'])).toEqual([]);
    });
  });
});

describe('negotiate: the format of a scrape', () => {
  const PROMETHEUS_2 =
    'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
  const PROMETHEUS_3 =
    'application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1';

  // Issue #24: Prometheus 2.42's exact header with --enable-feature=native-histograms
  // (scrape/scrape.go, scrapeAcceptHeaderWithProtobuf), and Prometheus 3's with scrape_native_histograms
  // (scrape.go's acceptHeader() over PrometheusProto first).
  const PROMETHEUS_2_PROTOBUF =
    'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
  const PROMETHEUS_3_PROTOBUF =
    'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6,application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1';
  const PROTOBUF =
    'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited';

  it.each<[string | string[] | undefined, ExpositionFormat]>([
    // Issue #24: protobuf only for a range that names it whole, q-values honoured.
    [PROMETHEUS_2_PROTOBUF, 'protobuf'],
    [PROMETHEUS_3_PROTOBUF, 'protobuf'],
    [PROTOBUF, 'protobuf'],
    [
      'Application/Vnd.Google.Protobuf; Proto="IO.Prometheus.Client.MetricFamily"; Encoding=Delimited',
      'protobuf',
    ],
    [`${PROTOBUF};q=0, text/plain;q=0.1`, 'text'],
    [`${PROTOBUF};q=0`, 'text'],
    [`${PROTOBUF};q=0.4, application/openmetrics-text;q=0.5`, 'openmetrics'],
    [`application/openmetrics-text;q=0.5, ${PROTOBUF};q=0.5`, 'openmetrics'],
    [`${PROTOBUF};q=0.5, application/openmetrics-text;q=0.5`, 'protobuf'],
    ['application/vnd.google.protobuf', 'text'],
    ['application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily', 'text'],
    ['application/vnd.google.protobuf;encoding=delimited', 'text'],
    ['application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text', 'text'],
    ['application/vnd.google.protobuf;proto=io.prometheus.client.Metric;encoding=delimited', 'text'],
    ['application/vnd.google.protobuf, application/openmetrics-text;q=0.3', 'openmetrics'],
    ['application/vnd.google.protobuf;q=0.9, */*;q=0.5', 'text'],
    ['application/vnd.google.*', 'text'],
    ['application/*;q=0.9, text/*;q=0.8', 'openmetrics'],
    // The issue's two headers.
    ['application/openmetrics-text;q=0, text/plain', 'text'],
    ['x-application/openmetrics-textual', 'text'],
    ['application/openmetrics-textual', 'text'],
    [PROMETHEUS_2, 'openmetrics'],
    [PROMETHEUS_3, 'openmetrics'],
    ['text/plain;version=0.0.4;q=0.5,*/*;q=0.1', 'text'],
    ['application/openmetrics-text', 'openmetrics'],
    ['APPLICATION/OpenMetrics-Text; VERSION=1.0.0', 'openmetrics'],
    ['application/openmetrics-text; version="1.0.0"; charset="UTF-8"', 'openmetrics'],
    ['application/openmetrics-text;version=0.0.1', 'openmetrics'],
    ['application/*', 'openmetrics'],
    // No header, */*, and ties: the server's choice, text.
    [undefined, 'text'],
    ['', 'text'],
    ['*/*', 'text'],
    ['text/plain, application/openmetrics-text', 'text'],
    ['application/openmetrics-text, text/plain', 'openmetrics'],
    ['text/plain;q=0.5, application/openmetrics-text;q=0.6', 'openmetrics'],
    ['application/*;q=0.9, text/*;q=0.8', 'openmetrics'],
    // The most specific range decides.
    ['text/*;q=0, */*', 'openmetrics'],
    ['*/*;q=0.1, application/openmetrics-text;q=0', 'text'],
    ['text/plain;version=0.0.4;q=0, text/plain, application/openmetrics-text;q=0.1', 'openmetrics'],
    // Versions and charsets the server does not send.
    ['application/openmetrics-text;version=2.0.0, text/plain;q=0.5', 'text'],
    ['text/plain;charset=iso-8859-1, application/openmetrics-text;q=0.5', 'openmetrics'],
    // Malformed ranges are ignored.
    ['application/openmetrics-text;q=1.5, text/plain;q=0.1', 'text'],
    ['application/openmetrics-text;q=0.5;foo, text/plain;q=0.1', 'text'],
    ['garbage, application/openmetrics-text', 'openmetrics'],
    [['text/plain;q=0.1', 'application/openmetrics-text'], 'openmetrics'],
    // Nothing acceptable: the text format, as client_golang answers.
    ['application/json', 'text'],
    ['application/openmetrics-text;version=2.0.0', 'text'],
    ['text/plain;q=0, application/openmetrics-text;q=0', 'text'],
    ['*/*;q=0', 'text'],
    // Hostile: OpenMetrics past the ranges read.
    ['a/b,'.repeat(100_000) + 'application/openmetrics-text', 'text'],
  ])('%j: %s', (header, format) => {
    expect(negotiate(header)).toBe(format);
  });
});

describe('negotiateFormat: open to another format', () => {
  const OFFERS: OfferedFormat<'text' | 'openmetrics' | 'protobuf'>[] = [
    { format: 'text', type: 'text', subtype: 'plain', params: { version: ['0.0.4'] } },
    {
      format: 'openmetrics',
      type: 'application',
      subtype: 'openmetrics-text',
      params: { version: ['1.0.0'] },
    },
    {
      format: 'protobuf',
      type: 'application',
      subtype: 'vnd.google.protobuf',
      params: { proto: ['io.prometheus.client.metricfamily'], encoding: ['delimited'] },
      required: ['proto', 'encoding'],
    },
  ];

  it.each<[string, string | undefined]>([
    [
      'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,application/openmetrics-text;q=0.3',
      'protobuf',
    ],
    ['application/vnd.google.protobuf, application/openmetrics-text;q=0.3', 'openmetrics'],
    ['application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text', undefined],
    ['application/*', 'openmetrics'],
    ['*/*', 'text'],
    ['application/json', undefined],
  ])('%s: %s', (header, format) => {
    expect(negotiateFormat(header, OFFERS)).toBe(format);
  });
});
