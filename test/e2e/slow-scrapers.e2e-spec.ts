/**
 * Slow scrapers (test/utils/suites/slow-scrapers.ts): 5 scrapers that stop reading against a byte
 * bound that takes two expositions (test/stress: 12).
 */
import { describeSlowScrapers } from '../utils/suites/slow-scrapers';

jest.setTimeout(180_000);

describeSlowScrapers({ paused: 5 });
