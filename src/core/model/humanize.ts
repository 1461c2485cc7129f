/**
 * `launch_date` -> `Launch Date`: the default column header. Deliberately plain (every word
 * capitalised, no acronym list) so authors can predict it; a `label` says anything else.
 */
export function humanize(name: string): string {
  return name
    .split('_')
    .filter((w) => w.length > 0)
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .join(' ');
}
