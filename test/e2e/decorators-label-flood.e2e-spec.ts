/**
 * Issue #12, item 2: label values of 1 MB from requests through every decorator path that keeps
 * label values (test/utils/suites/decorators-label-flood.ts). A cap of 5 with 25 values: kept whole,
 * 25 values of 1 MB on 10 paths would be 250 MB against a bound of 11 MiB; test/stress sends 300
 * against a cap of 20.
 */
import { describeLabelFlood } from '../utils/suites/decorators-label-flood';

describeLabelFlood({ maxSeries: 5, values: 25, timeoutMs: 300_000 });
