/**
 * The Dockerfile, checked without a Docker engine: parsed with dockerfile-ast (the parser of
 * the Dockerfile language server), its build context filtered by .dockerignore as Docker does
 * (@balena/dockerignore), its ENTRYPOINT, CMD and HEALTHCHECK held against the CLI's command
 * tree and the service's routes. `docker build` itself is not run here.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import dockerignoreModule from '@balena/dockerignore';
import { DockerfileParser, type Instruction } from 'dockerfile-ast';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/example-project.js';
import { parseCommandLine, program, serviceRoutes } from './command-lines.js';

// The package is CommonJS (`module.exports = factory`) while its types declare `export default`.
const dockerignore = dockerignoreModule as unknown as typeof dockerignoreModule.default;
const dockerfile = DockerfileParser.parse(readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8'));
const ignored = dockerignore({}).add(
  readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0 && !line.startsWith('#')),
);
const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
  bin: Record<string, string>;
};

interface Stage {
  name: string | undefined;
  image: string;
  instructions: Instruction[];
}

/** The stages, each with the instructions after its FROM. */
function stages(): Stage[] {
  const result: Stage[] = [];
  for (const instruction of dockerfile.getInstructions()) {
    if (instruction.getKeyword() === 'FROM') {
      const from = dockerfile
        .getFROMs()
        .find((f) => f.getRange().start.line === instruction.getRange().start.line)!;
      result.push({
        name: from.getBuildStage() ?? undefined,
        image: from.getImage() ?? '',
        instructions: [],
      });
    } else result.at(-1)?.instructions.push(instruction);
  }
  return result;
}

const all = stages();
const runtime = all.at(-1)!;
const of = (stage: Stage, keyword: string) => stage.instructions.filter((i) => i.getKeyword() === keyword);
const args = (i: Instruction) => i.getArguments().map((a) => a.getValue());
/** The exec-form (JSON array) arguments of ENTRYPOINT, CMD or HEALTHCHECK CMD. */
const execForm = (i: Instruction): string[] => {
  const text = i.getArgumentsContent() ?? '';
  const json = text.slice(text.indexOf('['));
  return JSON.parse(json) as string[];
};
const flag = (i: Instruction, name: string) =>
  (i as unknown as { getFlags(): { getName(): string; getValue(): string | null }[] })
    .getFlags()
    .find((f) => f.getName() === name)
    ?.getValue() ?? undefined;

/** Where a COPY lands: its destination under the stage's WORKDIR at that point. */
function destination(stage: Stage, copy: Instruction): string {
  let workdir = '/';
  for (const i of stage.instructions) {
    if (i === copy) break;
    if (i.getKeyword() === 'WORKDIR') workdir = posix.resolve(workdir, args(i)[0]!);
  }
  return posix.resolve(workdir, args(copy).at(-1)!);
}

function filesUnder(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path).flatMap((entry) => filesUnder(join(path, entry)));
}

describe('the Dockerfile', () => {
  it('builds on node:20-bookworm-slim (glibc, for the prebuilt DuckDB bindings) in named stages', () => {
    const names = new Set<string>();
    for (const stage of all) {
      expect(stage.image === 'node:20-bookworm-slim' || names.has(stage.image), stage.image).toBe(true);
      if (stage.name) names.add(stage.name);
    }
    expect(runtime.image).toBe('node:20-bookworm-slim');
  });

  it('copies only files that exist and that .dockerignore lets into the build context', () => {
    const sources: string[] = [];
    for (const stage of all)
      for (const copy of [...of(stage, 'COPY'), ...of(stage, 'ADD')]) {
        expect(copy.getKeyword(), 'ADD fetches and unpacks: COPY says what it does').toBe('COPY');
        if (flag(copy, 'from') !== undefined) continue;
        sources.push(...args(copy).slice(0, -1));
      }
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) {
      const path = join(REPO_ROOT, source);
      expect(existsSync(path), `${source} exists`).toBe(true);
      for (const file of filesUnder(path)) {
        const relative = file.slice(REPO_ROOT.length).replace(/^\/+/, '');
        expect(ignored.ignores(relative), `${relative} reaches the build context`).toBe(false);
      }
    }
  });

  it('keeps what must never be in a build context out of it', () => {
    for (const path of [
      'node_modules/x/index.js',
      'dist/cli.js',
      '.git/HEAD',
      '.strata/runs.db',
      '.env',
      'coverage/index.html',
    ])
      expect(ignored.ignores(path), path).toBe(true);
  });

  it('copies from earlier stages only, by name', () => {
    const seen = new Set<string>();
    for (const stage of all) {
      for (const copy of of(stage, 'COPY')) {
        const from = flag(copy, 'from');
        if (from !== undefined) expect(seen.has(from), `COPY --from=${from}`).toBe(true);
      }
      if (stage.name) seen.add(stage.name);
    }
  });

  it('builds with every dependency and ships production dependencies only', () => {
    const runs = (stage: Stage) => of(stage, 'RUN').map((i) => i.getArgumentsContent() ?? '');
    const builder = all.find((s) => runs(s).some((r) => /\bnpm run build\b/.test(r)));
    expect(builder, 'a stage runs npm run build').toBeDefined();
    expect(
      runs(builder!).some((r) => /\bnpm ci(?!.*--omit)/.test(r)),
      'after a full npm ci',
    ).toBe(true);

    expect(runs(runtime).join('\n')).not.toMatch(/\bnpm (ci|install)\b/);
    const modules = of(runtime, 'COPY').filter((c) => destination(runtime, c) === '/app/node_modules');
    expect(modules).toHaveLength(1);
    const from = all.find((s) => s.name === flag(modules[0]!, 'from'))!;
    expect(
      runs(from).some((r) => /\bnpm ci --omit=dev\b/.test(r)),
      `${from.name} runs npm ci --omit=dev`,
    ).toBe(true);
    expect(runs(from).some((r) => /\bnpm run build\b/.test(r))).toBe(false);
  });

  it('ships the built CLI and the package.json it reads its version from', () => {
    const copies = of(runtime, 'COPY');
    const dist = copies.find((c) => destination(runtime, c) === '/app/dist');
    expect(dist, 'dist/ lands in /app/dist').toBeDefined();
    expect(flag(dist!, 'from')).toBe(
      all.find((s) => of(s, 'RUN').some((r) => /npm run build/.test(r.getArgumentsContent() ?? '')))?.name,
    );
    // src/version.ts reads new URL('../package.json', import.meta.url): /app/package.json.
    const pkgCopy = copies.find((c) => flag(c, 'from') === undefined && args(c).includes('package.json'));
    expect(pkgCopy && destination(runtime, pkgCopy)).toBe('/app');
  });

  it('runs as an unprivileged user', () => {
    const users = of(runtime, 'USER').map((u) => args(u)[0]);
    expect(users.length).toBeGreaterThan(0);
    expect(['root', '0']).not.toContain(users.at(-1));
  });

  it('runs the CLI the package names as its bin', () => {
    const entrypoints = of(runtime, 'ENTRYPOINT');
    expect(entrypoints).toHaveLength(1);
    expect(execForm(entrypoints[0]!)).toEqual(['node', posix.join('/app', pkg.bin.strata!)]);
  });

  const cmd = execForm(of(runtime, 'CMD')[0]!);
  const parsed = parseCommandLine(cmd);
  const port = String(
    parsed.line.options.get('port') ??
      program.commands.find((c) => c.name() === 'serve')!.options.find((o) => o.long === '--port')!
        .defaultValue,
  );

  it('serves by default, on every interface of the container, with the project at /project', () => {
    expect(parsed.problems).toEqual([]);
    expect(parsed.line.command).toEqual(['serve']);
    expect(parsed.line.options.get('host')).toBe('0.0.0.0');
    expect(parsed.line.options.get('project')).toBe('/project');
    // The working directory is the project too, so `docker run strata validate` reads it.
    expect(posix.resolve(...of(runtime, 'WORKDIR').map((w) => args(w)[0]!))).toBe('/project');
    expect(of(runtime, 'EXPOSE').flatMap(args)).toEqual([port]);
  });

  it("checks health on the serve port's GET /health, a route open without a credential", () => {
    const healthchecks = of(runtime, 'HEALTHCHECK');
    expect(healthchecks).toHaveLength(1);
    const probe = execForm(healthchecks[0]!).join(' ');
    const url = /https?:\/\/(?:127\.0\.0\.1|localhost):(\d+)(\/[^'"\s]*)/.exec(probe);
    expect(url, probe).not.toBeNull();
    expect(url![1]).toBe(port);
    const route = serviceRoutes().find((r) => r.path === url![2] && r.method === 'GET');
    expect(route, `GET ${url![2]} is a route of strata serve`).toBeDefined();
    expect(route!.public).toBe(true);
  });
});
