import { resolveOptions } from '../../src/veza-metrics.options';
import { startupError } from '../utils/module';
import { pushgatewayGroupUrl } from '../../src/push/pushgateway-options';

const base = { url: 'http://127.0.0.1:9091', jobName: 'nightly' };

describe('option pushgateway', () => {
  it('is off by default, and fills in its defaults when given', () => {
    expect(resolveOptions({}).pushgateway).toBeUndefined();
    expect(resolveOptions({ pushgateway: base }).pushgateway).toEqual({
      groupUrl: 'http://127.0.0.1:9091/metrics/job/nightly',
      target: 'http://127.0.0.1:9091',
      jobName: 'nightly',
      groupings: {},
      intervalMs: undefined,
      pushOnShutdown: true,
      timeoutMs: 5000,
      headers: {},
      format: 'text',
    });
  });

  it('accepts every documented form', () => {
    const resolved = resolveOptions({
      pushgateway: {
        url: 'https://pgw.example:8443/prefix/',
        jobName: 'cron/import',
        groupings: { tenant: 'acme', shard: '', path: '/a/b' },
        intervalMs: 15_000,
        pushOnShutdown: false,
        timeoutMs: 2_000,
        headers: { 'X-Scope-OrgID': 'veza' },
        format: 'protobuf',
      },
    }).pushgateway;
    expect(resolved).toEqual({
      // The Pushgateway's base64 form for values with a slash, '=' for an empty one.
      groupUrl: `https://pgw.example:8443/prefix/metrics/job@base64/${Buffer.from('cron/import').toString('base64url')}/tenant/acme/shard@base64/=/path@base64/${Buffer.from('/a/b').toString('base64url')}`,
      target: 'https://pgw.example:8443/prefix',
      jobName: 'cron/import',
      groupings: { tenant: 'acme', shard: '', path: '/a/b' },
      intervalMs: 15_000,
      pushOnShutdown: false,
      timeoutMs: 2_000,
      headers: { 'X-Scope-OrgID': 'veza' },
      format: 'protobuf',
    });
  });

  it('turns credentials in the URL into a Basic Authorization header, and keeps them out of the URLs it logs', () => {
    const resolved = resolveOptions({
      pushgateway: { ...base, url: 'http://user:p%40ss@127.0.0.1:9091' },
    }).pushgateway;
    expect(resolved?.headers).toEqual({
      Authorization: `Basic ${Buffer.from('user:p@ss').toString('base64')}`,
    });
    expect(resolved?.target).toBe('http://127.0.0.1:9091');
    expect(resolved?.groupUrl).toBe('http://127.0.0.1:9091/metrics/job/nightly');
  });

  it('escapes label values in the path', () => {
    expect(pushgatewayGroupUrl(new URL('http://h:1'), 'a b', { env: 'é?#' })).toBe(
      'http://h:1/metrics/job/a%20b/env/%C3%A9%3F%23',
    );
  });

  it.each([
    [
      'not an object',
      'http://x',
      'VezaMetricsModule: option "pushgateway" must be an object { url, jobName, groupings?, intervalMs?, ... }, got the string "http://x".',
    ],
    [
      'a class instance instead of a plain object',
      new (class {
        url = 'http://127.0.0.1:9091';
        jobName = 'nightly';
      })(),
      'VezaMetricsModule: option "pushgateway" must be an object { url, jobName, groupings?, intervalMs?, ... }, got an instance of an anonymous class ({"url":"http://127.0.0.1:9091","jobName":"nightly"}).',
    ],
    [
      'an unknown key',
      { ...base, interval: 5 },
      'VezaMetricsModule: unknown option "pushgateway.interval"; expected one of url, jobName, groupings, intervalMs, pushOnShutdown, timeoutMs, headers, format.',
    ],
    [
      'no url',
      { jobName: 'j' },
      'VezaMetricsModule: option "pushgateway.url" must be an http:// or https:// URL without query or fragment, such as "http://pushgateway:9091", got undefined.',
    ],
    [
      'a url that is not http',
      { ...base, url: 'ftp://h:21' },
      'VezaMetricsModule: option "pushgateway.url" must be an http:// or https:// URL without query or fragment, such as "http://pushgateway:9091", got the string "ftp://h:21".',
    ],
    [
      'a url with credentials that is refused (they are masked in the message)',
      { ...base, url: 'http://user:s3cret@h:9091/?a=1' },
      'VezaMetricsModule: option "pushgateway.url" must be an http:// or https:// URL without query or fragment, such as "http://pushgateway:9091", got the string "http://***@h:9091/?a=1".',
    ],
    [
      'a url with a query',
      { ...base, url: 'http://h:9091/?a=1' },
      'VezaMetricsModule: option "pushgateway.url" must be an http:// or https:// URL without query or fragment, such as "http://pushgateway:9091", got the string "http://h:9091/?a=1".',
    ],
    [
      'not a url',
      { ...base, url: 'pushgateway:9091' },
      'VezaMetricsModule: option "pushgateway.url" must be an http:// or https:// URL without query or fragment, such as "http://pushgateway:9091", got the string "pushgateway:9091".',
    ],
    [
      'an empty job name',
      { ...base, jobName: '' },
      'VezaMetricsModule: option "pushgateway.jobName" must be a non-empty string (the "job" label of the pushed group), got the string "".',
    ],
    [
      'groupings that are not an object',
      { ...base, groupings: ['a'] },
      'VezaMetricsModule: option "pushgateway.groupings" must be an object of label names to string values, got an array (["a"]).',
    ],
    [
      'a grouping label that is not a label name',
      { ...base, groupings: { 'my-label': 'x' } },
      'VezaMetricsModule: option "pushgateway.groupings" must have Prometheus label names as keys (letters, digits and _, not starting with a digit or __), got the key "my-label".',
    ],
    [
      'a job grouping label',
      { ...base, groupings: { job: 'x' } },
      'VezaMetricsModule: option "pushgateway.groupings.job" must be left out (the job label is "pushgateway.jobName"), got the string "x".',
    ],
    [
      'a grouping value that is not a string',
      { ...base, groupings: { shard: 3 } },
      'VezaMetricsModule: option "pushgateway.groupings.shard" must be a string, got number 3.',
    ],
    [
      'a zero interval',
      { ...base, intervalMs: 0 },
      'VezaMetricsModule: option "pushgateway.intervalMs" must be a positive whole number of milliseconds, got number 0.',
    ],
    [
      'a fractional interval',
      { ...base, intervalMs: 1.5 },
      'VezaMetricsModule: option "pushgateway.intervalMs" must be a positive whole number of milliseconds, got number 1.5.',
    ],
    [
      'pushOnShutdown not a boolean',
      { ...base, pushOnShutdown: 'yes' },
      'VezaMetricsModule: option "pushgateway.pushOnShutdown" must be a boolean, got the string "yes".',
    ],
    [
      'a negative timeout',
      { ...base, timeoutMs: -1 },
      'VezaMetricsModule: option "pushgateway.timeoutMs" must be a positive whole number of milliseconds, got number -1.',
    ],
    [
      'a header name that is not one',
      { ...base, headers: { 'a b': 'x' } },
      'VezaMetricsModule: option "pushgateway.headers" must be HTTP header names as keys, got the string "a b".',
    ],
    [
      'a header value with a line break',
      { ...base, headers: { 'X-A': 'x\r\nInjected: 1' } },
      'VezaMetricsModule: option "pushgateway.headers.X-A" must be a string without line breaks, got the string "x\\r\\nInjected: 1".',
    ],
    [
      'a format it does not push in',
      { ...base, format: 'openmetrics' },
      'VezaMetricsModule: option "pushgateway.format" must be "text" or "protobuf", got the string "openmetrics".',
    ],
  ])('fails the start-up on %s', async (_what, pushgateway, message) => {
    expect(await startupError({ pushgateway })).toBe(message);
  });
});

describe('option cluster', () => {
  it('is on by default (it does nothing outside a cluster worker)', async () => {
    expect(resolveOptions({}).cluster).toBe(true);
    expect(resolveOptions({ cluster: false }).cluster).toBe(false);
    expect(await startupError({ cluster: true })).toBe('');
  });

  it('fails the start-up when it is not a boolean', async () => {
    expect(await startupError({ cluster: 'auto' })).toBe(
      'VezaMetricsModule: option "cluster" must be a boolean, got the string "auto".',
    );
  });
});
