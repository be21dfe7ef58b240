/**
 * Exposition chunks reused across scrapes (test/utils/suites/scrape-chunk-reuse.ts): 2,000 series,
 * about 420 KB in 7 chunks, each a fresh 64 KiB Buffer without the reuse (test/stress: 8,000 series).
 */
import { describeChunkReuse } from '../utils/suites/scrape-chunk-reuse';

describeChunkReuse({ series: 2_000 });
