/**
 * test/e2e/hostile-labels.e2e-spec.ts at the size it had: 10,000 hostile values in 5 batches at the
 * default cap, promtool twice per batch (128 s of the test at load 13), and 496 label sets against a
 * cap of 100.
 */
import { describeHostileLabels } from '../utils/suites/hostile-labels';

describeHostileLabels({
  values: 10_000,
  batches: 5,
  requestsPerBatch: 50,
  promtoolTimeoutMs: 600_000,
  runs: 31,
  labelCap: 100,
});
