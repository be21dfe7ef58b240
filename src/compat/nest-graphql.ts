/*
 * What this library assumes of `@nestjs/graphql`, its Apollo driver (`@nestjs/apollo`) and the
 * schema objects of graphql-js it serves (optional peers: never imported here; the recorder loads
 * `@nestjs/graphql` only for an application that uses it, P1 of optional-peers.ts). The GraphQL
 * recorder (src/graphql/) reaches them only through this file. Contract test:
 * test/unit/nest-graphql-contract.spec.ts (not named compat-*, as peer-marks-contract: the Nest 10
 * and 11 matrix fixtures have no GraphQL packages), which names the assumption and the installed
 * version; test/e2e/graphql-*.e2e-spec.ts run every driver. Verified on @nestjs/graphql 14.0.3,
 * @nestjs/apollo 14.0.3, graphql 16.
 *
 * G1 A provider whose class carries the metadata key `'graphql:plugin'` (what `@Plugin()` of
 *    `@nestjs/apollo` sets; its `PLUGIN_METADATA`) is added by the Apollo driver to Apollo Server's
 *    plugins, as the instance Nest made. Why: the recorder is an Apollo Server plugin without a
 *    decorator that would load `@nestjs/apollo`. Fallback: none at run time (no operation is
 *    recorded on Apollo: the contract test fails first).
 * G2 Code-first, a field of an `@ObjectType()` gets from Nest a resolver that reads the property
 *    off the parent, named `rootFieldResolver` (a middleware chain when field middleware is set);
 *    `@ResolveField()` and root fields get Nest's resolver of the method. Why: in the default scope,
 *    a field read off the parent is not timed (it costs nothing). Fallback: a field whose resolver
 *    has another name is timed as a resolved field (one series more per such field, bounded by the
 *    schema).
 * G3 The schema `GraphQLSchemaHost.schema` holds is the one the driver serves, and graphql-js reads
 *    `field.resolve` off the field objects of its `GraphQLObjectType`s (tagged
 *    `[object GraphQLObjectType]`, in 16 and 17) at each execution, so a resolver set on the field
 *    at bootstrap runs for every later request. Apollo Server wraps those resolvers for its plugins
 *    at its first request (its wrapper keeps the resolver it found, and has no name), so they are
 *    replaced at bootstrap, before it, and G2 reads Nest's own. Why: time resolvers on every driver
 *    without code in them. Fallback: none at run time (the contract test fails first).
 */

/** G1: the metadata key of Apollo's `@Plugin()`. */
const APOLLO_PLUGIN_METADATA = 'graphql:plugin';
/** G2: the name of Nest's resolver of a field read off the parent. */
const NEST_PARENT_FIELD_RESOLVER = 'rootFieldResolver';

/** A field resolver, as graphql-js calls it. */
export type FieldResolver = (
  this: unknown,
  source: unknown,
  args: unknown,
  context: unknown,
  info: unknown,
) => unknown;

/** Marks `target` as an Apollo Server plugin for Nest's Apollo driver (G1). */
export function markApolloPlugin(target: object): void {
  Reflect.defineMetadata(APOLLO_PLUGIN_METADATA, true, target);
}

interface FieldLike {
  name: string;
  resolve?: FieldResolver;
}
interface ObjectTypeLike {
  name: string;
  getFields(): Record<string, FieldLike>;
}
/** The part of a `GraphQLSchema` read here. */
export interface SchemaLike {
  getTypeMap(): Record<string, unknown>;
  getQueryType(): { name: string } | null | undefined;
  getMutationType(): { name: string } | null | undefined;
  getSubscriptionType(): { name: string } | null | undefined;
}

/** One field of an object type, as {@link replaceResolvers} shows it. */
export interface FieldOfSchema {
  readonly parentType: string;
  readonly field: string;
  /** A field of the query, mutation or subscription type. */
  readonly root: boolean;
  /** Its own resolver, `undefined` when graphql-js' default resolver reads it. */
  readonly resolver: FieldResolver | undefined;
  /** True when the field is read off the parent: no resolver of its own, or Nest's (G2). */
  readonly fromParent: boolean;
}

/** True for a `GraphQLObjectType` of any copy of graphql-js (G3). */
function isObjectType(type: unknown): type is ObjectTypeLike {
  return Object.prototype.toString.call(type) === '[object GraphQLObjectType]';
}

/**
 * Puts `replace(field)`'s resolver in place of each field's of every object type of `schema`
 * (introspection types excepted), where it returns one (G3).
 *
 * @returns how many fields were replaced.
 */
export function replaceResolvers(
  schema: SchemaLike,
  replace: (field: FieldOfSchema) => FieldResolver | undefined,
): number {
  const roots = new Set([
    schema.getQueryType()?.name,
    schema.getMutationType()?.name,
    schema.getSubscriptionType()?.name,
  ]);
  let replaced = 0;
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    const root = roots.has(type.name);
    for (const field of Object.values(type.getFields())) {
      const own = field.resolve;
      const resolver = replace({
        parentType: type.name,
        field: field.name,
        root,
        resolver: own,
        fromParent: !own || own.name === NEST_PARENT_FIELD_RESOLVER,
      });
      if (resolver === undefined) continue;
      field.resolve = resolver;
      replaced++;
    }
  }
  return replaced;
}
