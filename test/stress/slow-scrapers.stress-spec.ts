/** test/e2e/slow-scrapers.e2e-spec.ts with the 12 paused scrapers it had against the byte bound. */
import { describeSlowScrapers } from '../utils/suites/slow-scrapers';

jest.setTimeout(180_000);

describeSlowScrapers({ paused: 12 });
