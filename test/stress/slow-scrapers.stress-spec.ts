/**
 * The byte-bound test of test/e2e/slow-scrapers.e2e-spec.ts with the 12 paused scrapers it had (the
 * other tests do not depend on the size and run in e2e only).
 */
import { describeSlowScrapers } from '../utils/suites/slow-scrapers';

jest.setTimeout(180_000);

describeSlowScrapers({ paused: 12, byteBoundOnly: true });
