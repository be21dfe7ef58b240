/**
 * The `Accept` header (RFC 9110 §12.5.1) and the negotiation of an exposition format from it.
 *
 * One linear pass over at most {@link MAX_ACCEPT_LENGTH} characters and {@link MAX_ACCEPT_RANGES}
 * media ranges: a hostile header (100,000 ranges, megabytes) costs what its first 4 KiB cost. A
 * malformed range (a type that is not a token, `*\/plain`, a parameter without a value, a q-value out
 * of `0`..`1` or with more than three decimals, an unterminated quoted string) is ignored, the rest of
 * the header is not.
 */

/** Characters of `Accept` read; the range that runs past them is ignored, and so is the rest. */
export const MAX_ACCEPT_LENGTH = 4096;

/** Media ranges read (valid or not); the rest of the header is ignored. Prometheus sends five at most. */
export const MAX_ACCEPT_RANGES = 64;

/** One media range of `Accept`: type, subtype and parameter names in lowercase, values as given (unquoted). */
export interface MediaRange {
  /** `*` for `*\/*`. */
  readonly type: string;
  /** `*` for `type/*` and `*\/*`. */
  readonly subtype: string;
  /** The media type's parameters (those before the weight), by lowercase name, in order. */
  readonly params: ReadonlyMap<string, string>;
  /** The weight in thousandths (`q=0.5` is 500); 1000 when not given. */
  readonly weight: number;
  /** Its place among the valid ranges of the header, from 0. */
  readonly index: number;
}

/** A format the server can send, as negotiation matches it against media ranges. */
export interface OfferedFormat<F extends string = string> {
  readonly format: F;
  /** Lowercase. */
  readonly type: string;
  /** Lowercase. */
  readonly subtype: string;
  /**
   * The values (lowercase, compared case-insensitively) this format accepts for the parameters it
   * knows: a range naming one of them with another value does not match it (`version=2.0.0`).
   * Parameters it does not list (`escaping`, which Prometheus 3 sends) do not prevent a match.
   */
  readonly params?: Readonly<Record<string, readonly string[]>>;
  /**
   * Parameters a range of this exact type must name to match it (protobuf's `proto` and
   * `encoding`); wildcards match without them.
   */
  readonly required?: readonly string[];
}

// RFC 9110 §5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
  TCHAR[c.charCodeAt(0)] = 1;
const isTchar = (code: number): boolean => code < 128 && TCHAR[code] === 1;
// qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
const QVALUE = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/;

const SP = 0x20;
const HTAB = 0x09;
const COMMA = 0x2c;
const SEMI = 0x3b;
const SLASH = 0x2f;
const EQUALS = 0x3d;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Thrown inside {@link parseAccept} at a malformed range (one instance, built once); never escapes it. */
const MALFORMED = new Error('malformed media range');

/** The header as Node hands it (a list when a proxy sent several), cut to {@link MAX_ACCEPT_LENGTH}. */
function headerText(header: string | readonly string[] | undefined): string {
  if (header === undefined) return '';
  if (typeof header === 'string')
    return header.length > MAX_ACCEPT_LENGTH ? header.slice(0, MAX_ACCEPT_LENGTH + 1) : header;
  let text = '';
  for (const part of header) {
    text += text === '' ? part : `,${part}`;
    if (text.length > MAX_ACCEPT_LENGTH) break;
  }
  return text.length > MAX_ACCEPT_LENGTH ? text.slice(0, MAX_ACCEPT_LENGTH + 1) : text;
}

/**
 * The valid media ranges of an `Accept` header, in the order given. An absent or empty header gives
 * none (the caller reads that as `*\/*`).
 */
export function parseAccept(header: string | readonly string[] | undefined): MediaRange[] {
  const text = headerText(header);
  // A range that reaches past the cap is incomplete: cut it off with the rest.
  const end = Math.min(text.length, MAX_ACCEPT_LENGTH);
  const truncated = text.length > MAX_ACCEPT_LENGTH;
  const ranges: MediaRange[] = [];
  let at = 0;
  let seen = 0;

  const ows = (): void => {
    while (at < end && (text.charCodeAt(at) === SP || text.charCodeAt(at) === HTAB)) at++;
  };
  const token = (): string => {
    const start = at;
    while (at < end && isTchar(text.charCodeAt(at))) at++;
    if (at === start) throw MALFORMED;
    return text.slice(start, at);
  };
  const quoted = (): string => {
    at++; // the opening quote
    let value = '';
    while (at < end) {
      const code = text.charCodeAt(at);
      if (code === DQUOTE) {
        at++;
        return value;
      }
      if (code === BACKSLASH) {
        const next = text.charCodeAt(at + 1);
        if (at + 1 >= end || !(next === HTAB || (next >= SP && next !== 0x7f))) throw MALFORMED;
        value += text[at + 1];
        at += 2;
        continue;
      }
      // qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
      if (!(code === HTAB || (code >= SP && code !== 0x7f))) throw MALFORMED;
      value += text[at];
      at++;
    }
    throw MALFORMED; // unterminated
  };
  /** Past the current element: to just after the next comma outside a quoted string. */
  const skipElement = (): void => {
    while (at < end) {
      const code = text.charCodeAt(at);
      if (code === COMMA) {
        at++;
        return;
      }
      if (code === DQUOTE) {
        at++;
        while (at < end && text.charCodeAt(at) !== DQUOTE) at += text.charCodeAt(at) === BACKSLASH ? 2 : 1;
      }
      at++;
    }
  };

  while (at < end && seen < MAX_ACCEPT_RANGES) {
    ows();
    if (at >= end) break;
    if (text.charCodeAt(at) === COMMA) {
      at++; // an empty list element (RFC 9110 §5.6.1)
      continue;
    }
    seen++;
    const start = at;
    try {
      const type = token().toLowerCase();
      if (text.charCodeAt(at) !== SLASH) throw MALFORMED;
      at++;
      const subtype = token().toLowerCase();
      if (type === '*' && subtype !== '*') throw MALFORMED;
      const params = new Map<string, string>();
      let weight = 1000;
      let weighted = false;
      for (;;) {
        ows();
        if (at >= end) {
          if (truncated) throw MALFORMED; // cut off by the cap
          break;
        }
        const code = text.charCodeAt(at);
        if (code === COMMA) {
          at++;
          break;
        }
        if (code !== SEMI) throw MALFORMED;
        at++;
        ows();
        const name = token().toLowerCase();
        if (text.charCodeAt(at) !== EQUALS) throw MALFORMED;
        at++;
        const isQuoted = text.charCodeAt(at) === DQUOTE;
        const value = isQuoted ? quoted() : token();
        if (weighted) continue; // extension parameters after the weight: ignored
        if (name === 'q') {
          // weight = OWS ";" OWS "q=" qvalue: a bare qvalue, never quoted.
          if (isQuoted || !QVALUE.test(value)) throw MALFORMED;
          weight = Math.round(Number(value) * 1000);
          weighted = true;
        } else if (!params.has(name)) params.set(name, value);
      }
      ranges.push({ type, subtype, params, weight, index: ranges.length });
    } catch (error) {
      if (error !== MALFORMED) throw error;
      // From the range's start, so that a quoted string is skipped whole wherever the error was.
      at = start;
      skipElement();
    }
  }
  return ranges;
}

/** How specific a matching range is (RFC 9110 §12.5.1): `*\/*` < `type/*` < `type/subtype` < with parameters. */
function specificity(range: MediaRange): number {
  if (range.type === '*') return 0;
  if (range.subtype === '*') return 1;
  return 2 + range.params.size;
}

function matches(range: MediaRange, offer: OfferedFormat): boolean {
  if (range.type === '*') return true;
  if (range.type !== offer.type) return false;
  if (range.subtype === '*') return true;
  if (range.subtype !== offer.subtype) return false;
  for (const name of offer.required ?? []) if (!range.params.has(name)) return false;
  for (const [name, value] of range.params) {
    const accepted = offer.params?.[name];
    if (accepted && !accepted.includes(value.toLowerCase())) return false;
  }
  return true;
}

/**
 * The format to send for an `Accept` header: of the `offers` the header accepts (weight above 0 in
 * the most specific range that matches each), the one of highest weight; between equal weights, the
 * one whose range comes first in the header, then the first offered. `undefined` when the header
 * accepts none of them; an absent or empty header (or one with no valid range) accepts all.
 */
export function negotiateFormat<F extends string>(
  header: string | readonly string[] | undefined,
  offers: readonly OfferedFormat<F>[],
): F | undefined {
  const ranges = parseAccept(header);
  if (ranges.length === 0) return offers[0]?.format;
  let best: { format: F; weight: number; index: number } | undefined;
  for (const offer of offers) {
    let chosen: MediaRange | undefined;
    for (const range of ranges) {
      if (!matches(range, offer)) continue;
      if (!chosen || specificity(range) > specificity(chosen)) chosen = range;
    }
    if (!chosen || chosen.weight === 0) continue;
    if (!best || chosen.weight > best.weight || (chosen.weight === best.weight && chosen.index < best.index))
      best = { format: offer.format, weight: chosen.weight, index: chosen.index };
  }
  return best?.format;
}
