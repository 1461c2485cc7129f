/**
 * ops/deploy (docs/deployment.md), checked against the code: the compose file parses, every
 * Strata container runs a real CLI command line, stops within its grace period, and reads
 * environment variables the code reads; nginx proxies to the port serve listens on and only to
 * routes the service has, never /metrics; the example strata.yaml is a valid configuration
 * whose warehouse is the catalog and the files Trino's Iceberg connector reads.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { readConfig } from '../../src/project/load-project.js';
import { REPO_ROOT } from '../support/example-project.js';
import { parseCommandLine, serviceRoutes } from './command-lines.js';

const DEPLOY = join(REPO_ROOT, 'ops', 'deploy');
const read = (file: string) => readFileSync(join(DEPLOY, file), 'utf8');

interface ComposeService {
  image?: string;
  command?: string[] | string;
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  expose?: string[];
  healthcheck?: { disable?: boolean };
  stop_grace_period?: string;
}

const composeDocument = parseDocument(read('docker-compose.yml'), { merge: true });
const compose = composeDocument.toJS({ maxAliasCount: 100 }) as { services: Record<string, ComposeService> };
const strataServices = Object.entries(compose.services).filter(([, s]) => s.image?.startsWith('strata'));
const commandOf = (service: ComposeService) => {
  expect(Array.isArray(service.command), 'exec form: a list, no shell').toBe(true);
  return parseCommandLine(service.command as string[]);
};

/** "40s", "1m30s" -> ms (compose durations). */
function durationMs(text: string): number {
  let total = 0;
  for (const [, n, unit] of text.matchAll(/(\d+)(ms|s|m|h)/g))
    total += Number(n) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit as 'ms' | 's' | 'm' | 'h'];
  return total;
}

function sourceText(dir: string): string {
  return readdirSync(dir)
    .map((entry) => join(dir, entry))
    .map((path) => (statSync(path).isDirectory() ? sourceText(path) : readFileSync(path, 'utf8')))
    .join('\n');
}

describe('ops/deploy/docker-compose.yml', () => {
  it('parses as YAML', () => {
    expect(composeDocument.errors).toEqual([]);
    expect(strataServices.map(([name]) => name).sort()).toEqual(['pipeline-worker', 'serve', 'worker']);
  });

  it('runs real CLI command lines: one serve on every interface, workers with and without pipelines', () => {
    for (const [name, service] of strataServices) expect(commandOf(service).problems, name).toEqual([]);
    const serve = commandOf(compose.services.serve!).line;
    expect(serve.command).toEqual(['serve']);
    expect(serve.options.get('host')).toBe('0.0.0.0');
    expect(serve.options.get('withWorker')).toBeUndefined();
    const workers = strataServices.filter(([name]) => name !== 'serve').map(([, s]) => commandOf(s).line);
    expect(workers.every((w) => w.command.join(' ') === 'worker')).toBe(true);
    expect(workers.map((w) => w.options.get('pipelines') ?? true).sort()).toEqual([false, true]);
    for (const [, service] of strataServices)
      expect(commandOf(service).line.options.get('project')).toBe('/project');
  });

  it('gives each container more time to stop than its --shutdown-grace, with a margin', () => {
    for (const [name, service] of strataServices) {
      const grace = Number(commandOf(service).line.options.get('shutdownGrace') ?? 20_000);
      expect(durationMs(service.stop_grace_period ?? '10s'), name).toBeGreaterThanOrEqual(grace + 15_000);
    }
  });

  it("turns the image's health check off where no service answers it", () => {
    for (const [name, service] of strataServices)
      if (name !== 'serve') expect(service.healthcheck?.disable, name).toBe(true);
  });

  it('publishes ports on the proxy only', () => {
    const publishing = Object.entries(compose.services)
      .filter(([, s]) => (s.ports ?? []).length > 0)
      .map(([name]) => name);
    expect(publishing).toEqual(['proxy']);
  });

  it('passes Strata only environment variables its code or the example strata.yaml (env:NAME) reads', () => {
    const src = sourceText(join(REPO_ROOT, 'src'));
    const referenced = [...read('strata.example.yaml').matchAll(/env:([A-Z][A-Z0-9_]*)/g)].map((m) => m[1]);
    for (const [name, service] of strataServices)
      for (const variable of Object.keys(service.environment ?? {}))
        expect(
          src.includes(`'${variable}'`) || src.includes(`.${variable}`) || referenced.includes(variable),
          `${name}: ${variable}`,
        ).toBe(true);
  });
});

describe('ops/deploy/nginx.conf', () => {
  const nginx = read('nginx.conf').replace(/#.*$/gm, '');
  const locations = [...nginx.matchAll(/location\s+(=|~)?\s*(\S+)\s*\{([^{}]*(?:\{[^{}]*\}[^{}]*)*)\}/g)].map(
    ([, modifier, path, body]) => ({ modifier, path: path!, body: body! }),
  );

  it('sends to the port and service name serve listens on', () => {
    const upstream = /upstream\s+(\w+)\s*\{([^}]*)\}/.exec(nginx);
    expect(upstream).not.toBeNull();
    const servers = [...upstream![2]!.matchAll(/server\s+([\w.-]+):(\d+)/g)].map(([, host, port]) => ({
      host,
      port,
    }));
    expect(servers.length).toBeGreaterThan(0);
    const serve = commandOf(compose.services.serve!).line;
    for (const server of servers) {
      expect(compose.services[server.host!], `${server.host} is a compose service`).toBeDefined();
      expect(server.port).toBe(serve.options.get('port'));
      expect(compose.services.serve!.expose).toContain(server.port);
    }
    for (const location of locations.filter((l) => /proxy_pass/.test(l.body)))
      expect(location.body).toMatch(new RegExp(`proxy_pass\\s+http://${upstream![1]};`));
  });

  it('forwards only routes the service has, and never /metrics', () => {
    const routes = serviceRoutes();
    const proxied = locations.filter((l) => /proxy_pass/.test(l.body));
    expect(proxied.length).toBeGreaterThan(0);
    for (const location of proxied) {
      const matches = routes.filter((r) =>
        location.modifier === '~' ? new RegExp(location.path).test(r.path) : r.path === location.path,
      );
      expect(matches.length, `location ${location.path} names a route of strata serve`).toBeGreaterThan(0);
      const allowed = /limit_except\s+(\w+)/.exec(location.body)?.[1];
      for (const route of matches) expect(route.method, `${route.path}`).toBe(allowed);
    }
    expect(routes.some((r) => r.path === '/metrics')).toBe(true);
    expect(proxied.some((l) => l.path.includes('metrics'))).toBe(false);
    expect(locations.find((l) => l.path === '/metrics')?.body).toMatch(/return\s+404/);
    expect(locations.find((l) => l.path === '/')?.body).toMatch(/return\s+404/);
  });

  it('upgrades no connection to a websocket: the service has none', () => {
    expect(nginx).not.toMatch(/Upgrade/i);
    expect(serviceRoutes().every((r) => ['GET', 'POST'].includes(r.method))).toBe(true);
  });
});

describe('ops/deploy/strata.example.yaml and Trino', () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-deploy-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'strata.yaml'), read('strata.example.yaml'));
  const { config, diagnostics } = readConfig(dir);

  it('is a valid strata.yaml', () => {
    expect(diagnostics).toEqual([]);
    expect(config.warehouse?.catalog).toBe('postgres');
    expect(config.runs?.store).toBe('postgres');
  });

  it("gives Trino's Iceberg connector the catalog and the files the warehouse writes", () => {
    const properties = Object.fromEntries(
      read('trino/catalog/iceberg.properties')
        .split('\n')
        .filter((line) => line.trim() && !line.startsWith('#'))
        .map((line) => [line.slice(0, line.indexOf('=')).trim(), line.slice(line.indexOf('=') + 1).trim()]),
    );
    expect(properties['connector.name']).toBe('iceberg');
    expect(properties['iceberg.catalog.type']).toBe('jdbc');
    expect(properties['iceberg.jdbc-catalog.catalog-name']).toBe(config.warehouse?.name ?? 'strata');
    expect(properties['iceberg.jdbc-catalog.default-warehouse-dir']).toBe(`file://${config.warehouse?.root}`);
    // The database of STRATA_CATALOG_URL (postgres://strata:...@postgres:5432/strata).
    const catalogUrl = new URL(
      compose.services.serve!.environment!.STRATA_CATALOG_URL!.replace(/\$\{[^}]*\}/, 'x'),
    );
    expect(properties['iceberg.jdbc-catalog.connection-url']).toBe(
      `jdbc:postgresql://${catalogUrl.host}${catalogUrl.pathname}`,
    );
    expect(config.trino?.server).toBe('http://trino:8080');
    expect(config.trino?.catalog).toBe('iceberg'); // the properties file's name
    // The same volume at the same path: the metadata holds absolute file:// locations.
    const mountOf = (service: ComposeService) =>
      (service.volumes ?? [])
        .map((v) => v.split(':'))
        .find(([, target]) => config.warehouse!.root!.startsWith(`${target}/`));
    const strataMount = mountOf(compose.services.serve!);
    const trinoMount = mountOf(compose.services.trino!);
    expect(strataMount).toBeDefined();
    expect(trinoMount?.slice(0, 2)).toEqual(strataMount?.slice(0, 2));
  });
});

describe('docs/deployment.md', () => {
  it('runs only CLI command lines that exist', () => {
    const guide = readFileSync(join(REPO_ROOT, 'docs', 'deployment.md'), 'utf8');
    const lines = [
      ...guide.matchAll(
        /(?:docker run [^\n]*?strata:latest|docker compose run --rm --no-deps serve|node \/app\/dist\/cli\.js) ([^\n#>|]*)/g,
      ),
    ].map((m) => m[1]!.trim().split(/\s+/));
    expect(lines.length).toBeGreaterThanOrEqual(6);
    for (const args of lines) expect(parseCommandLine(args).problems, args.join(' ')).toEqual([]);
  });
});
