import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const DECORATORS = join(__dirname, '../../src/decorators');

/**
 * src/decorators/ holds the decorators, a file each (named `<decorator>.decorator.ts`, as its
 * siblings), and their index: the helpers they share live by role elsewhere (src/instrumentation/).
 */
describe('src/decorators/', () => {
  it('holds only *.decorator.ts files and index.ts', () => {
    const others = readdirSync(DECORATORS).filter(
      (f) => f !== 'index.ts' && !/^[a-z-]+\.decorator\.ts$/.test(f),
    );
    expect(others).toEqual([]);
  });
});
