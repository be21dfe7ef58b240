/** A sample line of the Prometheus text format. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A metric family: its `# HELP`, `# TYPE` and samples. */
export interface Family {
  name: string;
  help: string;
  type: string;
  samples: Sample[];
}

// Label values may hold any character but a raw line feed (carriage returns, NUL, U+2028 included).
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^\n]*)\})? (\S+)(?: \S+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

function unescapeLabel(value: string): string {
  return value.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

function unescapeHelp(value: string): string {
  return value.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

/** Parses the Prometheus text format into families keyed by name (samples grouped under `# TYPE`). */
export function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  let current: Family | undefined;
  const family = (name: string): Family => {
    let f = families.get(name);
    if (!f) {
      f = { name, help: '', type: 'untyped', samples: [] };
      families.set(name, f);
    }
    return f;
  };
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('# HELP ')) {
      const rest = line.slice(7);
      const space = rest.indexOf(' ');
      current = family(rest.slice(0, space));
      current.help = unescapeHelp(rest.slice(space + 1));
    } else if (line.startsWith('# TYPE ')) {
      const [name, type] = line.slice(7).split(' ') as [string, string];
      current = family(name);
      current.type = type;
    } else if (!line.startsWith('#')) {
      const m = SAMPLE.exec(line);
      if (!m) throw new Error(`not a sample line: ${line}`);
      const labels: Record<string, string> = {};
      for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]] = unescapeLabel(l[2]);
      const sample = { name: m[1], labels, value: Number(m[3] === '+Inf' ? Infinity : m[3]) };
      (current && sample.name.startsWith(current.name) ? current : family(sample.name)).samples.push(sample);
    }
  }
  return families;
}

/**
 * The value of the sample `name` whose labels include every pair of `labels` (other labels, such as
 * default labels, are ignored); `undefined` when there is none, an error when more than one matches.
 */
export function sampleValue(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const matches: Sample[] = [];
  for (const f of parseExposition(text).values()) {
    for (const s of f.samples) {
      if (s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) matches.push(s);
    }
  }
  if (matches.length > 1)
    throw new Error(`${matches.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return matches[0]?.value;
}
