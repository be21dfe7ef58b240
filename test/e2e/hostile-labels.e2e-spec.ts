/**
 * Hostile label values (test/utils/suites/hostile-labels.ts), small: 1,000 values against a cap of
 * 50 series per metric (the overflow path taken by hostile values too), the exposition checked by
 * promtool twice; 66 label sets of "\u0000=" against a cap of 20. test/stress runs 10,000 values at the
 * default cap, and 496 label sets against 100.
 */
import { describeHostileLabels } from '../utils/suites/hostile-labels';

describeHostileLabels({
  values: 1_000,
  batches: 2,
  requestsPerBatch: 25,
  maxSeries: 50,
  promtoolTimeoutMs: 180_000,
  runs: 11,
  labelCap: 20,
});
