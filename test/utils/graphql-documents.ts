/**
 * A large GraphQL document that parses and fails validation, for the test and the benchmark of a
 * refused document Mercurius answers from its error cache (issue #21 item 3): `query Big` selecting
 * distinct aliases of `tracks { id title }` (so validation stays linear), then an unknown field
 * `nope`. About `bytes` long (at least).
 */
export function refusedDocument(bytes = 560_000): string {
  const parts: string[] = [];
  let length = 0;
  for (let i = 0; length < bytes; i++) {
    const part = `t${i}: tracks { id title }`;
    parts.push(part);
    length += part.length + 1;
  }
  return `query Big { ${parts.join(' ')} nope }`;
}
