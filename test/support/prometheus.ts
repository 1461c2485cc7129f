/**
 * Scraping /metrics in tests and reading it with parse-prometheus-text-format (a Prometheus
 * text-format parser from npm, ported from the Prometheus Python client's).
 *
 * That parser folds every series of a labelled histogram into one (it keeps the buckets of all
 * series and drops their labels, sums and counts), so a histogram's series are read by parsing
 * its `_bucket`, `_sum` and `_count` samples without the family's TYPE line: the same parser
 * then reads them as plain samples, labels and all.
 */
import parsePrometheusTextFormat, { type ParsedFamily } from 'parse-prometheus-text-format';

export interface Scrape {
  status: number;
  contentType: string;
  text: string;
  families: Map<string, ParsedFamily>;
}

export async function scrape(url: string, headers: Record<string, string> = {}): Promise<Scrape> {
  const response = await fetch(url, { headers });
  const text = await response.text();
  const families =
    response.status === 200
      ? new Map(parsePrometheusTextFormat(text).map((f) => [f.name, f]))
      : new Map<string, ParsedFamily>();
  return { status: response.status, contentType: response.headers.get('content-type') ?? '', text, families };
}

const matches = (labels: Record<string, string> | undefined, wanted: Record<string, string>) =>
  Object.entries(wanted).every(([k, v]) => labels?.[k] === v);

/** The value of the one series of a counter or gauge with these labels (undefined: none). */
export function sample(s: Scrape, name: string, labels: Record<string, string> = {}): number | undefined {
  const family = s.families.get(name);
  if (!family) throw new Error(`${name} is not exported`);
  const found = family.metrics.filter((m) => matches(m.labels, labels));
  if (found.length > 1) throw new Error(`${name}${JSON.stringify(labels)} matches ${found.length} series`);
  return found[0]?.value === undefined ? undefined : Number(found[0].value);
}

/** Every series of a family with these labels (counters and gauges). */
export function series(s: Scrape, name: string, labels: Record<string, string> = {}) {
  const family = s.families.get(name);
  if (!family) throw new Error(`${name} is not exported`);
  return family.metrics
    .filter((m) => matches(m.labels, labels))
    .map((m) => ({ labels: m.labels ?? {}, value: Number(m.value) }));
}

/** A histogram series' count and sum (and its +Inf bucket), with these labels. */
export function histogram(
  s: Scrape,
  name: string,
  labels: Record<string, string> = {},
): { count: number; sum: number; infBucket: number } | undefined {
  if (s.families.get(name)?.type !== 'HISTOGRAM') throw new Error(`${name} is not an exported histogram`);
  const lines = s.text.split('\n').filter((line) => /^[a-zA-Z_:]/.test(line) && line.startsWith(`${name}_`));
  // Untyped, each run of `_bucket`, `_sum` or `_count` lines is a family of its own: one per series.
  const plain = parsePrometheusTextFormat(lines.join('\n') + '\n');
  const one = (suffix: string, extra: Record<string, string> = {}) =>
    plain
      .filter((f) => f.name === `${name}${suffix}`)
      .flatMap((f) => f.metrics)
      .find((m) => matches(m.labels, { ...labels, ...extra }));
  const count = one('_count');
  if (!count) return undefined;
  return {
    count: Number(count.value),
    sum: Number(one('_sum')?.value),
    infBucket: Number(one('_bucket', { le: '+Inf' })?.value),
  };
}
