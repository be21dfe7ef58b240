/**
 * Contract tests of src/compat/mercurius.ts: each assumption (M1-M5) it makes of Mercurius, by its
 * name, against the installed version, on a real Fastify instance with Mercurius and the seam's own
 * functions. A failure says which assumption broke and on which version.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import mercurius from 'mercurius';
import { installedVersion } from '../../src/compat/installed-version';
import {
  isRefusal,
  listenToMercurius,
  noteParsedDocument,
  noteRefusal,
  refusedDocument,
  type GraphqlCallArgs,
  type Settled,
} from '../../src/compat/mercurius';

const against = `mercurius ${installedVersion('mercurius') ?? '(unknown version)'}`;

/** Fails with the assumption's name and the installed Mercurius' version. */
function holds(assumption: string, ok: boolean, detail: string): void {
  if (!ok) throw new Error(`${against} no longer meets ${assumption} of src/compat/mercurius.ts: ${detail}`);
}

type Graphql = (source: string, context?: object, variables?: object) => Promise<unknown>;

/** A ready Fastify instance with Mercurius and a one-field schema, `track(id: Int!)`. */
async function mercuriusApp(): Promise<FastifyInstance> {
  const app = Fastify();
  await app.register(mercurius, {
    schema: 'type Query { track(id: Int!): String }',
    resolvers: { Query: { track: (_: unknown, { id }: { id: number }) => `track ${id}` } },
  });
  await app.ready();
  return app;
}

describe(`src/compat/mercurius.ts: what we assume of Mercurius (${against})`, () => {
  let app: FastifyInstance;
  let graphql: Graphql;
  const parsed: unknown[] = [];

  beforeAll(async () => {
    app = await mercuriusApp();
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

describe(`src/compat/mercurius.ts: how a server is heard, M1-M3 (${against})`, () => {
  let app: FastifyInstance;
  const heard: Array<{ kind: string; context: unknown; settled?: Settled; args?: GraphqlCallArgs }> = [];

  beforeAll(async () => {
    app = await mercuriusApp();
    const listening = listenToMercurius(app, {
      parsed: (_document, context) => heard.push({ kind: 'parsed', context }),
      executing: (_document, context) => heard.push({ kind: 'executing', context }),
      settled: (args, settled) => heard.push({ kind: 'settled', context: args[1], settled, args }),
    });
    holds('M1', listening, 'app.graphql is not a function with addHook');
  });
  afterAll(async () => app?.close());

  /** What was heard of one request, once its call settled. */
  async function request(
    inject: () => Promise<{ statusCode: number }>,
  ): Promise<{ status: number; kinds: string[]; sameContext: boolean; settled?: Settled }> {
    heard.length = 0;
    const { statusCode } = await inject();
    const last = heard.at(-1);
    return {
      status: statusCode,
      kinds: heard.map((h) => h.kind),
      sameContext: heard.every((h) => h.context === heard[0]?.context && typeof h.context === 'object'),
      settled: last?.settled,
    };
  }

  it('M1, M3: every HTTP request (POST and GET) calls app.graphql once; the hooks get the context the call got', async () => {
    const post = await request(() =>
      app.inject({ method: 'POST', url: '/graphql', payload: { query: '{ track(id: 1) }' } }),
    );
    const get = await request(() =>
      app.inject({ method: 'GET', url: '/graphql?query=%7B%20track(id%3A%202)%20%7D' }),
    );
    const cached = await request(() =>
      app.inject({ method: 'POST', url: '/graphql', payload: { query: '{ track(id: 1) }' } }),
    );
    holds('M1', post.status === 200 && get.status === 200, `statuses ${post.status}, ${get.status}`);
    holds(
      'M3',
      JSON.stringify(post.kinds) === '["parsed","executing","settled"]',
      `POST heard ${post.kinds.join(', ')}`,
    );
    holds(
      'M3',
      JSON.stringify(get.kinds) === '["parsed","executing","settled"]',
      `GET heard ${get.kinds.join(', ')}`,
    );
    holds(
      'M3',
      JSON.stringify(cached.kinds) === '["executing","settled"]',
      `a cached document heard ${cached.kinds.join(', ')}`,
    );
    holds(
      'M3',
      post.sameContext && get.sameContext && cached.sameContext,
      'a hook got another context than the call',
    );
  });

  it('M2: the call resolves to the result sent, and rejects a document that does not validate with MER_ERR_GQL_VALIDATION (400)', async () => {
    const ok = await request(() =>
      app.inject({ method: 'POST', url: '/graphql', payload: { query: '{ track(id: 3) }' } }),
    );
    const value = ok.settled && 'value' in ok.settled ? ok.settled.value : undefined;
    holds(
      'M2',
      JSON.stringify(value) === '{"data":{"track":"track 3"}}',
      `resolved to ${JSON.stringify(value)}`,
    );
    const refused = await request(() =>
      app.inject({ method: 'POST', url: '/graphql', payload: { query: '{ nope }' } }),
    );
    const error = refused.settled && 'error' in refused.settled ? refused.settled.error : undefined;
    holds(
      'M2',
      refused.status === 400 && isRefusal(error),
      `status ${refused.status}, ${String((error as { code?: unknown })?.code)}`,
    );
    expect(isRefusal(new Error('boom'))).toBe(false);
  });
});
