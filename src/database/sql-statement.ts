/**
 * What a SQL statement does, read from its text: the `operation` and `table` labels of
 * `veza_database_query_duration_seconds` for ORMs that hand the library a statement (TypeORM).
 *
 * Only the first {@link SQL_PREFIX} UTF-16 units of a statement are read, whatever its length, and
 * only an identifier (cut to {@link MAX_TABLE_NAME} units) is ever given out as a label: never the
 * statement, a literal or a comment ({@link scanned} lends the recorder the scanned text only to
 * find the table's span in it, and {@link endScan} drops it). The scan is a few native searches (`RegExp#test`, no match
 * arrays), not a parse: string literals are not told from code, so a statement that spells `FROM`
 * or a parenthesis inside a literal may be given another table. That is the worst a statement can
 * do here; the recorder bounds the tables it keeps (`database.maxTables`).
 */

/** The `operation` label: what a statement does. */
export type DatabaseOperation = 'select' | 'insert' | 'update' | 'delete' | 'transaction' | 'other';

/** Every value of {@link DatabaseOperation}, in the order the recorder keeps their series. */
export const DATABASE_OPERATIONS: readonly DatabaseOperation[] = [
  'select',
  'insert',
  'update',
  'delete',
  'transaction',
  'other',
];

/** How much of a statement is read: a main table further than this is not looked for. */
export const SQL_PREFIX = 4096;

/** Longest table name kept (SQL Server's limit; PostgreSQL's is 63 bytes, MySQL's 64 characters). */
export const MAX_TABLE_NAME = 128;

/** What {@link classifySql} found: the operation, and the main table when it found one. */
export interface SqlStatement {
  readonly operation: DatabaseOperation;
  /** Unquoted, without its schema; `undefined` when the statement names none (or it is not found). */
  readonly table: string | undefined;
}

const OTHER: SqlStatement = { operation: 'other', table: undefined };
const TRANSACTION: SqlStatement = { operation: 'transaction', table: undefined };

/** A statement's first keyword, in lower case, to what it does (`with` is resolved further). */
const FIRST_KEYWORDS: ReadonlyMap<string, DatabaseOperation | 'with'> = new Map<
  string,
  DatabaseOperation | 'with'
>([
  ['select', 'select'],
  ['insert', 'insert'],
  ['replace', 'insert'],
  ['update', 'update'],
  ['delete', 'delete'],
  ['begin', 'transaction'],
  ['start', 'transaction'],
  ['commit', 'transaction'],
  ['rollback', 'transaction'],
  ['savepoint', 'transaction'],
  ['release', 'transaction'],
  ['end', 'transaction'],
  ['abort', 'transaction'],
  ['with', 'with'],
]);

const LONGEST_KEYWORD = 9; // savepoint

// Global regexes driven by `lastIndex` and `test` (no match array): each finds a parenthesis or its
// keyword; which one matched is read from the text just before `lastIndex`.
const FROM = /[()]|\bfrom\b/gi;
const INTO = /[()]|\binto\b/gi;
const MAIN_VERB = /[()]|\b(?:select|insert|update|delete)\b/gi; // all four are 6 letters

/** How deep a subquery in `FROM ( ... )` is followed. */
const MAX_NESTING = 4;

/**
 * The operation and main table of `sql` (see the file's header). `operation`: `select`, `insert`
 * (`INSERT`, `REPLACE`), `update`, `delete`, `transaction` (`BEGIN`, `START TRANSACTION`, `COMMIT`,
 * `ROLLBACK`, `SAVEPOINT`, `RELEASE`, `END`, `ABORT`), the main verb of a `WITH ...` statement, else
 * `other` (DDL, `PRAGMA`, `SET`, `SHOW`, `EXPLAIN`, a non-string). `table`: after the first `FROM`
 * outside parentheses (`select`, `delete`; a subquery `FROM (SELECT ...)` is followed into), after
 * `INTO` (`insert`), after `UPDATE` and its modifiers (`update`); `"x"`, `` `x` `` and `[x]` unquoted,
 * `schema.table` as `table`; a table function (`FROM generate_series(...)`) is none.
 */
export function classifySql(sql: unknown): SqlStatement {
  const operation = scanSql(sql);
  if (operation === 'other') return OTHER;
  if (operation === 'transaction') return TRANSACTION;
  return { operation, table: scannedTable() };
}

/** {@link ScannedTable.kind}: the statement names no table, or it was not found. */
export const NO_TABLE_FOUND = 0;
/** {@link ScannedTable.kind}: the table is `text.slice(from, to)` (not copied until asked for). */
export const TABLE_SPAN = 1;
/** {@link ScannedTable.kind}: the table is `name` (a quoted name with a doubled quote). */
export const TABLE_NAME = 2;

/**
 * The table the last {@link scanSql} found, for its caller to read at once, then {@link endScan}:
 * overwritten by the next scan.
 */
export interface ScannedTable {
  readonly kind: typeof NO_TABLE_FOUND | typeof TABLE_SPAN | typeof TABLE_NAME;
  readonly text: string;
  readonly from: number;
  readonly to: number;
  readonly name: string;
}

const found: { -readonly [K in keyof ScannedTable]: ScannedTable[K] } = {
  kind: NO_TABLE_FOUND,
  text: '',
  from: 0,
  to: 0,
  name: '',
};

/** The last {@link scanSql}'s table (read-only; the same object at every scan). */
export const scanned: ScannedTable = found;

/**
 * {@link classifySql} without its result object or a copy of the table's name: the operation,
 * and the table left in {@link scanned} (read it, or {@link scannedTable}, before the next scan).
 */
export function scanSql(sql: unknown): DatabaseOperation {
  found.kind = NO_TABLE_FOUND;
  found.text = '';
  if (typeof sql !== 'string') return 'other';
  const text = sql.length > SQL_PREFIX ? sql.slice(0, SQL_PREFIX) : sql;
  const start = skipNoise(text, 0, true);
  const wordEnd = bareEnd(text, start);
  if (wordEnd - start > LONGEST_KEYWORD || wordEnd === start) return 'other';
  const kind =
    wordEnd - start === 6
      ? (commonVerb(text, start) ?? keywordOf(text, start, wordEnd))
      : keywordOf(text, start, wordEnd);
  if (kind === undefined) return 'other';
  if (kind === 'transaction' || kind === 'other') return kind;
  if (kind === 'with') {
    const verb = findAtTop(text, MAIN_VERB, wordEnd);
    if (verb < 0) return 'other';
    // The regex matched one of the four verbs: its first letter tells which.
    const first = text.charCodeAt(verb - 6) | 0x20;
    const word: DatabaseOperation =
      first === 0x73 ? 'select' : first === 0x69 ? 'insert' : first === 0x75 ? 'update' : 'delete';
    tableOf(text, word, verb, 0);
    return word;
  }
  tableOf(text, kind, wordEnd, 0);
  return kind;
}

/** The table the last {@link scanSql} found, as {@link classifySql} gives it; then {@link endScan}. */
export function scannedTable(): string | undefined {
  const table =
    found.kind === TABLE_SPAN
      ? found.text.slice(found.from, found.to)
      : found.kind === TABLE_NAME
        ? found.name
        : undefined;
  endScan();
  return table;
}

/**
 * Drops the last scan's text, so that {@link scanned} keeps no statement (a long one's prefix is a
 * slice that would keep all of it) past its reading.
 */
export function endScan(): void {
  found.kind = NO_TABLE_FOUND;
  found.text = '';
}

/**
 * The four verbs in any case, read unit by unit (no copy of the word): `c | 0x20` is a lower-case
 * ASCII letter only for that letter in either case.
 */
function commonVerb(text: string, start: number): DatabaseOperation | undefined {
  switch (text.charCodeAt(start) | 0x20) {
    case 0x73:
      return sameWord(text, start, 'select') ? 'select' : undefined;
    case 0x69:
      return sameWord(text, start, 'insert') ? 'insert' : undefined;
    case 0x75:
      return sameWord(text, start, 'update') ? 'update' : undefined;
    case 0x64:
      return sameWord(text, start, 'delete') ? 'delete' : undefined;
    default:
      return undefined;
  }
}

/** Whether the text at `start` is `lower` in any case (ASCII letters). */
function sameWord(text: string, start: number, lower: string): boolean {
  for (let i = 1; i < lower.length; i++)
    if ((text.charCodeAt(start + i) | 0x20) !== lower.charCodeAt(i)) return false;
  return true;
}

function keywordOf(text: string, start: number, end: number): DatabaseOperation | 'with' | undefined {
  return FIRST_KEYWORDS.get(text.slice(start, end).toLowerCase());
}

/** The main table of a statement whose verb `op` ends at `at`, into {@link scanned}. */
function tableOf(text: string, op: DatabaseOperation, at: number, nesting: number): void {
  switch (op) {
    case 'select': {
      const from = findKeyword(text, at, 'FROM', 'from', FROM);
      if (from < 0) return;
      let i = skipNoise(text, from, false);
      if (text.charCodeAt(i) === 0x28 /* ( */) {
        // A subquery: its own main table.
        if (nesting >= MAX_NESTING) return;
        i = skipNoise(text, i + 1, false);
        const end = bareEnd(text, i);
        if (end - i !== 6 || text.slice(i, end).toLowerCase() !== 'select') return;
        return tableOf(text, 'select', end, nesting + 1);
      }
      i = skipWord(text, i, 'only');
      return identifier(text, i, true);
    }
    case 'delete': {
      const from = findKeyword(text, at, 'FROM', 'from', FROM);
      if (from >= 0) identifier(text, skipWord(text, skipNoise(text, from, false), 'only'), false);
      return;
    }
    case 'insert': {
      const into = findKeyword(text, at, 'INTO', 'into', INTO);
      if (into >= 0) identifier(text, skipNoise(text, into, false), false);
      return;
    }
    case 'update': {
      // UPDATE [ONLY] [LOW_PRIORITY] [IGNORE] [OR <conflict>] table
      let i = skipNoise(text, at, false);
      for (let guard = 0; guard < 4; guard++) {
        const end = bareEnd(text, i);
        const word = end - i <= 12 ? text.slice(i, end).toLowerCase() : '';
        if (word === 'only' || word === 'low_priority' || word === 'ignore') i = skipNoise(text, end, false);
        else if (word === 'or') i = skipNoise(text, bareEnd(text, skipNoise(text, end, false)), false);
        else break;
      }
      return identifier(text, i, false);
    }
    default:
  }
}

/**
 * The index just past the first match of `re`'s keyword at or after `from` that is outside
 * parentheses opened after `from` and not part of a quoted name (`"from"`, `t.from`); -1 when there
 * is none, or when a parenthesis closes one opened before `from`.
 */
function findAtTop(text: string, re: RegExp, from: number): number {
  re.lastIndex = from;
  let depth = 0;
  while (re.test(text)) {
    const end = re.lastIndex;
    const c = text.charCodeAt(end - 1);
    if (c === 0x28 /* ( */) depth++;
    else if (c === 0x29 /* ) */) {
      if (--depth < 0) return -1;
    } else if (depth === 0) {
      const before = text.charCodeAt(re === INTO || re === FROM ? end - 5 : end - 7);
      if (standsAlone(before, text.charCodeAt(end))) return end;
    }
  }
  return -1;
}

/**
 * {@link findAtTop} for `FROM` and `INTO` spelled all upper or all lower case, as ORMs write them:
 * native `indexOf` searches, parentheses counted between matches; the regex otherwise.
 */
function findKeyword(text: string, from: number, upper: string, lower: string, re: RegExp): number {
  // Each search's next match, and the next parentheses, are kept and moved past only once passed:
  // the whole search reads the prefix a bounded number of times, however many candidates it rejects.
  let a = text.indexOf(upper, from);
  let b = text.indexOf(lower, from);
  let open = text.indexOf('(', from);
  let close = text.indexOf(')', from);
  let depth = 0;
  for (;;) {
    const at = a < 0 ? b : b < 0 ? a : Math.min(a, b);
    if (at < 0) return findAtTop(text, re, from);
    while (open >= 0 && open < at) {
      depth++;
      open = text.indexOf('(', open + 1);
    }
    while (close >= 0 && close < at) {
      depth--;
      close = text.indexOf(')', close + 1);
    }
    if (depth < 0) return -1;
    const end = at + upper.length;
    if (depth === 0 && standsAlone(text.charCodeAt(at - 1), text.charCodeAt(end))) return end;
    if (at === a) a = text.indexOf(upper, at + 1);
    if (at === b) b = text.indexOf(lower, at + 1);
  }
}

/** A keyword between `before` and `after` is one: not part of a word, a quoted name or `a.b`. */
function standsAlone(before: number, after: number): boolean {
  return !isWordChar(before) && !isQuoteOrDot(before) && !isWordChar(after) && after !== 0x2e;
}

function isWordChar(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x30 && c <= 0x39) ||
    c === 0x5f ||
    c === 0x24
  );
}

function isQuoteOrDot(c: number): boolean {
  return c === 0x22 || c === 0x27 || c === 0x60 || c === 0x5b || c === 0x5d || c === 0x2e; // " ' ` [ ] .
}

/** Past white space and comments (`-- ...`, `/* ... *\/`), and `(` and `;` at a statement's start. */
function skipNoise(text: string, from: number, atStart: boolean): number {
  let i = from;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d || c === 0x0c || c === 0x0b) i++;
    else if (atStart && (c === 0x28 || c === 0x3b)) i++;
    else if (c === 0x2d && text.charCodeAt(i + 1) === 0x2d) {
      const eol = text.indexOf('\n', i + 2);
      i = eol < 0 ? n : eol + 1;
    } else if (c === 0x2f && text.charCodeAt(i + 1) === 0x2a) {
      const close = text.indexOf('*/', i + 2);
      i = close < 0 ? n : close + 2;
    } else break;
  }
  return i;
}

/** Past `word` (any case) and the noise after it when the text at `i` is that word; else `i`. */
function skipWord(text: string, i: number, word: string): number {
  const end = bareEnd(text, i);
  if (end - i !== word.length || text.slice(i, end).toLowerCase() !== word) return i;
  return skipNoise(text, end, false);
}

/** The end of an unquoted word (letters, digits, `_`, `$`, and any non-ASCII character) starting at `i`. */
function bareEnd(text: string, i: number): number {
  const n = text.length;
  let j = i;
  while (j < n) {
    const c = text.charCodeAt(j);
    if (
      (c >= 0x61 && c <= 0x7a) ||
      (c >= 0x41 && c <= 0x5a) ||
      (c >= 0x30 && c <= 0x39) ||
      c === 0x5f ||
      c === 0x24 ||
      c > 0x7f
    )
      j++;
    else break;
  }
  return j;
}

/** The closing quote of a name opened by `c` (`"`, `` ` ``, `[`), or -1. */
function closingOf(c: number): number {
  return c === 0x22 ? 0x22 : c === 0x60 ? 0x60 : c === 0x5b ? 0x5d : -1;
}

/** The closing quote `c` (of {@link closingOf}) as a string. */
function quoteOf(c: number): string {
  return c === 0x22 ? '"' : c === 0x60 ? '`' : ']';
}

/**
 * The name at `i`, into {@link scanned}: one or more parts (`"x"`, `` `x` ``, `[x]` or bare) joined
 * by `.`, the last one kept (the table without its schema), cut to {@link MAX_TABLE_NAME}. None when
 * there is no name, a quote is not closed within the prefix, or (`functionIsNone`) a `(` follows it.
 * No copy of the name is made unless it has a doubled quote.
 */
function identifier(text: string, at: number, functionIsNone: boolean): void {
  let i = at;
  let from = 0;
  let to = 0;
  let doubled = -1; // the part's closing quote when it has a doubled one
  for (let part = 0; part < 4; part++) {
    const close = closingOf(text.charCodeAt(i));
    if (close >= 0) {
      // Quoted: a doubled closing quote is one character of the name.
      const quote = quoteOf(close);
      doubled = -1;
      let j = i + 1;
      for (;;) {
        const k = text.indexOf(quote, j);
        if (k < 0) return;
        if (text.charCodeAt(k + 1) === close) {
          doubled = close;
          j = k + 2;
          continue;
        }
        from = i + 1;
        to = Math.min(k, i + 1 + MAX_TABLE_NAME * 2);
        i = k + 1;
        break;
      }
    } else {
      const end = bareEnd(text, i);
      if (end === i) return;
      from = i;
      to = end;
      doubled = -1;
      i = end;
    }
    if (text.charCodeAt(i) !== 0x2e /* . */) break;
    i++;
  }
  if (from === to) return;
  if (functionIsNone && text.charCodeAt(skipNoise(text, i, false)) === 0x28) return;
  if (doubled >= 0) {
    let name = text.slice(from, to);
    const quote = quoteOf(doubled);
    if (name.includes(quote + quote)) name = name.split(quote + quote).join(quote);
    if (name === '') return;
    found.kind = TABLE_NAME;
    found.name = name.length > MAX_TABLE_NAME ? name.slice(0, MAX_TABLE_NAME) : name;
    return;
  }
  found.kind = TABLE_SPAN;
  found.text = text;
  found.from = from;
  found.to = Math.min(to, from + MAX_TABLE_NAME);
}
