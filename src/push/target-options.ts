/**
 * The option rules the Pushgateway push (`pushgateway`) and remote write (`remoteWrite`) share: the
 * target's URL, the request headers, and credentials in the URL moved to an Authorization header.
 */
import { check, defaulted, fail, nullAsUnset, record, rule, type Rule } from '../options/option-schema';

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** A string that cannot split a header: no CR, no LF. */
export const noLineBreak = (v: unknown): boolean => typeof v === 'string' && !/[\r\n]/.test(v);

/**
 * An `http://` or `https://` URL without fragment (and without query unless `query`), refused with
 * `expected`; the message shows what `shown` makes of the value given (it may hold credentials).
 */
export function httpUrl(
  expected: string,
  { query, shown }: { query: boolean; shown: (value: unknown) => unknown },
): Rule<URL> {
  return rule((value, at) => {
    if (typeof value !== 'string') fail(at, expected, value);
    let url: URL | undefined;
    try {
      url = new URL(value);
    } catch {
      // refused below
    }
    if (
      !url ||
      (url.protocol !== 'http:' && url.protocol !== 'https:') ||
      (!query && url.search !== '') ||
      url.hash !== ''
    )
      fail(at, expected, shown(value));
    return url;
  });
}

/** `headers`: header names to strings without line breaks, `{}` when unset. */
export const headersRule: Rule<Record<string, string>> = nullAsUnset(
  defaulted(
    record(
      check<string>(noLineBreak, 'a string without line breaks'),
      'an object of header names to string values',
      (name, at) => {
        if (!HEADER_NAME.test(name)) fail(at, 'HTTP header names as keys', name);
      },
    ),
    {},
  ),
);

/**
 * The request headers: `headers`, plus an Authorization header unless they have one: `authorization`
 * when given, else Basic credentials from the URL (`http://user:pass@host`), so that log lines and
 * the URLs requested name the target without them.
 */
export function withAuthorization(
  url: URL,
  headers: Readonly<Record<string, string>>,
  authorization?: string,
): Record<string, string> {
  const all: Record<string, string> = { ...headers };
  if (Object.keys(all).some((h) => h.toLowerCase() === 'authorization')) return all;
  if (authorization) all.Authorization = authorization;
  else if (url.username || url.password) {
    const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
    all.Authorization = `Basic ${Buffer.from(credentials, 'utf8').toString('base64')}`;
  }
  return all;
}
