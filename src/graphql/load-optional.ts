/**
 * `require(name)` of an optional peer, or `undefined` when it is not installed (only that: a broken
 * install of it still throws). Nothing is loaded before an application asks for GraphQL.
 */
export function loadOptionalPeer(name: string, load: (id: string) => unknown = require): unknown {
  try {
    return load(name);
  } catch (error) {
    const e = error as { code?: unknown; message?: unknown };
    if (e?.code === 'MODULE_NOT_FOUND' && typeof e.message === 'string' && e.message.includes(`'${name}'`))
      return undefined;
    throw error;
  }
}
