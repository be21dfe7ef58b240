/** The `status` label of every code from 0 to 599, computed once: no string is built per request. */
const CLASSES: readonly string[] = Array.from({ length: 600 }, (_, code) => `${Math.floor(code / 100)}xx`);
const CODES: readonly string[] = Array.from({ length: 600 }, (_, code) => String(code));

/**
 * The `status` label of `veza_http_requests_total` for `code`: its class (`2xx`, what the seed
 * meant by `string(rune(code / 100))`) or the code itself. Codes outside 100–599 are `other`.
 */
export function statusLabelOf(code: number, mode: 'class' | 'code'): string {
  if (!Number.isInteger(code) || code < 100 || code > 599) return 'other';
  return mode === 'class' ? CLASSES[code] : CODES[code];
}
