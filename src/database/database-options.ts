import { boolean, integer, nullAsUnset, object, shapeOf, toggle, type Rule } from '../options/option-schema';

/** Option `database`: queries run through the ORMs the application uses (docs/databases.md). */
export interface DatabaseMetricsOptions {
  /** Record database queries at all. @defaultValue `true` */
  enabled?: boolean;
  /** Every TypeORM `DataSource` of the application (`@nestjs/typeorm`). @defaultValue `true` */
  typeorm?: boolean;
  /** Prisma clients of the application. @defaultValue `true` */
  prisma?: boolean;
  /**
   * How many distinct tables the `table` label takes, over every data source of the application;
   * later ones are recorded as `<other>`.
   * @defaultValue `100`
   */
  maxTables?: number;
}

/** Option `database` once resolved. */
export interface ResolvedDatabaseOptions {
  readonly enabled: boolean;
  readonly typeorm: boolean;
  readonly prisma: boolean;
  readonly maxTables: number;
}

/** Option `database`: `true` (or not given), `false`, or `{ enabled?, typeorm?, prisma?, maxTables? }`. */
export const databaseRule: Rule<ResolvedDatabaseOptions> = toggle(
  object(
    shapeOf<DatabaseMetricsOptions>()({
      enabled: nullAsUnset(boolean(true)),
      typeorm: nullAsUnset(boolean(true)),
      prisma: nullAsUnset(boolean(true)),
      maxTables: nullAsUnset(integer(1, 10_000, 100)),
    }),
    '{ enabled?, typeorm?, prisma?, maxTables? }',
  ),
  'true, false or { enabled?, typeorm?, prisma?, maxTables? }',
);

/** Whether `orm`'s queries are recorded: the feature on and that ORM on. */
export function databaseOn(options: ResolvedDatabaseOptions, orm: 'typeorm' | 'prisma'): boolean {
  return options.enabled && options[orm];
}
