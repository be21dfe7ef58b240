import { prismaOperation } from '../../src/database/prisma-operations';

describe('prismaOperation: operation of a Prisma client action', () => {
  it.each([
    ['findMany', 'select'],
    ['findUnique', 'select'],
    ['findUniqueOrThrow', 'select'],
    ['findFirst', 'select'],
    ['findFirstOrThrow', 'select'],
    ['count', 'select'],
    ['aggregate', 'select'],
    ['groupBy', 'select'],
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
    ['queryRaw', 'other'],
    ['executeRaw', 'other'],
    ['runCommandRaw', 'other'],
    ['__proto__', 'other'],
    ['constructor', 'other'],
    ['x'.repeat(300), 'other'],
  ])('%s is %s', (action, operation) => {
    expect(prismaOperation(action)).toBe(operation);
  });
});
