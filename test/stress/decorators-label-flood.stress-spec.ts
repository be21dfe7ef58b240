/**
 * test/e2e/decorators-label-flood.e2e-spec.ts at its former size: 300 values of 1 MB against a cap
 * of 20 per metric. 300 posts of 1 MB took 190 s at load 8 on two cores, and ran past 240 s at load 20.
 */
import { describeLabelFlood } from '../utils/suites/decorators-label-flood';

describeLabelFlood({ maxSeries: 20, values: 300, timeoutMs: 900_000 });
