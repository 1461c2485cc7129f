/** The metric names the Grafana dashboard's PromQL reads, found by Prometheus's own PromQL grammar. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parser } from '@prometheus-io/lezer-promql';
import { REPO_ROOT } from '../support/example-project.js';

export const DASHBOARD = join(REPO_ROOT, 'ops', 'grafana', 'strata.json');

interface Panel {
  type: string;
  title?: string;
  targets?: { expr?: string }[];
  panels?: Panel[];
}

interface Dashboard {
  panels: Panel[];
  templating: { list: { query?: string | { query?: string } }[] };
}

export function readDashboard(): Dashboard {
  return JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
}

/** Every PromQL expression of every panel (rows' nested panels too), with its panel's title. */
export function expressions(dashboard: Dashboard): { panel: string; expr: string }[] {
  const all: { panel: string; expr: string }[] = [];
  const visit = (panels: readonly Panel[]) => {
    for (const panel of panels) {
      for (const target of panel.targets ?? [])
        if (target.expr) all.push({ panel: panel.title ?? panel.type, expr: target.expr });
      visit(panel.panels ?? []);
    }
  };
  visit(dashboard.panels);
  return all;
}

/** Grafana's interval variables are not PromQL: replaced by a duration before parsing. */
function withoutGrafanaVariables(expr: string): string {
  return expr.replace(/\$__(rate_interval|interval|range)/g, '5m');
}

/** The metric names an expression selects; throws on a syntax error. */
export function metricNames(expr: string): string[] {
  const text = withoutGrafanaVariables(expr);
  const tree = parser.parse(text);
  const names: string[] = [];
  tree.iterate({
    enter: (node) => {
      if (node.type.isError) throw new Error(`PromQL syntax error at ${node.from} in: ${expr}`);
      if (node.name !== 'VectorSelector') return;
      const id = node.node.getChild('Identifier');
      if (id) names.push(text.slice(id.from, id.to));
    },
  });
  return names;
}

/** Metric names in the template variables' `label_values(metric, label)` queries. */
export function variableMetricNames(dashboard: Dashboard): string[] {
  return dashboard.templating.list.flatMap((v) => {
    const query = typeof v.query === 'string' ? v.query : v.query?.query;
    const match = query ? /label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,/.exec(query) : null;
    return match ? [match[1]!] : [];
  });
}

/** A histogram's series (`_bucket`, `_sum`, `_count`) belong to its family. */
export function familyOf(name: string, families: ReadonlySet<string>): string {
  const base = name.replace(/_(bucket|sum|count)$/, '');
  return base !== name && families.has(base) ? base : name;
}
