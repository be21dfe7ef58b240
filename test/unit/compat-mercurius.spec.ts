/**
 * Contract tests of src/compat/mercurius.ts: each assumption (M4, M5) it makes of Mercurius, by its
 * name, against the installed version, on a real Fastify instance with Mercurius and the seam's own
 * functions. A failure says which assumption broke and on which version.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import mercurius from 'mercurius';
import { installedVersion } from '../../src/compat/installed-version';
import { noteParsedDocument, noteRefusal, refusedDocument } from '../../src/compat/mercurius';

const against = `mercurius ${installedVersion('mercurius') ?? '(unknown version)'}`;

/** Fails with the assumption's name and the installed Mercurius' version. */
function holds(assumption: string, ok: boolean, detail: string): void {
  if (!ok) throw new Error(`${against} no longer meets ${assumption} of src/compat/mercurius.ts: ${detail}`);
}

type Graphql = (source: string, context?: object, variables?: object) => Promise<unknown>;

describe(`src/compat/mercurius.ts: what we assume of Mercurius (${against})`, () => {
  let app: FastifyInstance;
  let graphql: Graphql;
  const parsed: unknown[] = [];

  beforeAll(async () => {
    app = Fastify();
    await app.register(mercurius, {
      schema: 'type Query { track(id: Int!): String }',
      resolvers: { Query: { track: (_: unknown, { id }: { id: number }) => `track ${id}` } },
    });
    await app.ready();
    const instance = app as unknown as { graphql: Graphql & { addHook: (...args: unknown[]) => void } };
    instance.graphql.addHook('preValidation', (_schema: unknown, document: unknown) => {
      parsed.push(document);
      noteParsedDocument(document);
    });
    graphql = (source, context, variables) => instance.graphql(source, context ?? {}, variables);
  });
  afterAll(async () => app?.close());

  async function refusal(call: Promise<unknown>): Promise<{ code?: unknown; errors?: unknown }> {
    try {
      await call;
    } catch (error) {
      return error as { code?: unknown; errors?: unknown };
    }
    throw new Error('the call was not refused');
  }

  it('M4: a repeated refused document is refused from the error cache, with the same errors array', async () => {
    parsed.length = 0;
    const source = 'query Bad { nope }';
    const first = await refusal(graphql(source));
    holds('M4', first.code === 'MER_ERR_GQL_VALIDATION', `first refusal code ${String(first.code)}`);
    holds('M4', parsed.length === 1, `${parsed.length} documents parsed for the first refusal`);
    noteRefusal(first, parsed[0]);
    const second = await refusal(graphql(source));
    holds('M4', second.code === 'MER_ERR_GQL_VALIDATION', `repeated refusal code ${String(second.code)}`);
    holds('M4', parsed.length === 1, 'the repeated document was parsed again (no preValidation expected)');
    holds('M4', Array.isArray(second.errors) && second.errors === first.errors, 'a new errors array');
    holds('M4', refusedDocument(second) === parsed[0], 'the repeated refusal does not lead to the document');
  });

  it('M5: variables refused for a cached document carry its VariableDefinition nodes', async () => {
    parsed.length = 0;
    const source = 'query Get($id: Int!) { track(id: $id) }';
    expect(await graphql(source, {}, { id: 1 })).toEqual({ data: { track: 'track 1' } });
    holds('M5', parsed.length === 1, `${parsed.length} documents parsed for the first request`);
    const refused = await refusal(graphql(source, {}, { id: 'one' }));
    holds('M5', parsed.length === 1, 'the cached document was parsed again');
    holds('M5', refused.code === 'MER_ERR_GQL_VALIDATION', `refusal code ${String(refused.code)}`);
    const node = (refused.errors as Array<{ nodes?: unknown[] }> | undefined)?.[0]?.nodes?.[0];
    const definition = (parsed[0] as { definitions: Array<{ variableDefinitions: unknown[] }> })
      .definitions[0];
    holds('M5', node === definition.variableDefinitions[0], 'the error does not carry the document’s node');
    holds('M5', refusedDocument(refused) === parsed[0], 'the refusal does not lead to the document');
  });

  it('finds no document for a refusal it was never told of', () => {
    expect(refusedDocument(new Error('x'))).toBeUndefined();
    expect(refusedDocument({ errors: [{ nodes: [{}] }] })).toBeUndefined();
    expect(refusedDocument(null)).toBeUndefined();
  });
});
