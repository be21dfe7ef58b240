/** test/e2e/scrape-chunk-reuse.e2e-spec.ts at the size it had: 8,000 series, about 1.6 MB in 25 chunks. */
import { describeChunkReuse } from '../utils/suites/scrape-chunk-reuse';

jest.setTimeout(120_000);

describeChunkReuse({ series: 8_000 });
