import type { DatabaseOperation } from './sql-statement';

/**
 * `operation` of each Prisma client action (PR2 of src/compat/prisma.ts). An upsert is `insert`:
 * on PostgreSQL Prisma runs it as `INSERT ... ON CONFLICT DO UPDATE` where it can, which the SQL
 * seams (TypeORM) label `insert` too. Raw queries (`$queryRaw`, `$executeRaw` and their `Unsafe`
 * forms, `runCommandRaw`) and any action a later Prisma adds are `other`: the span gives their
 * action, not their SQL.
 */
const OPERATIONS: ReadonlyMap<string, DatabaseOperation> = new Map<string, DatabaseOperation>([
  ['findMany', 'select'],
  ['findUnique', 'select'],
  ['findUniqueOrThrow', 'select'],
  ['findFirst', 'select'],
  ['findFirstOrThrow', 'select'],
  ['count', 'select'],
  ['aggregate', 'select'],
  ['groupBy', 'select'],
  ['findRaw', 'select'],
  ['aggregateRaw', 'select'],
  ['create', 'insert'],
  ['createMany', 'insert'],
  ['createManyAndReturn', 'insert'],
  ['upsert', 'insert'],
  ['update', 'update'],
  ['updateMany', 'update'],
  ['updateManyAndReturn', 'update'],
  ['delete', 'delete'],
  ['deleteMany', 'delete'],
  ['$transaction', 'transaction'],
]);

/** `operation` of a Prisma action: see {@link OPERATIONS}; `other` for any other action. */
export function prismaOperation(action: string): DatabaseOperation {
  return OPERATIONS.get(action) ?? 'other';
}
