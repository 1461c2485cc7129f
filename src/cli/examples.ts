/**
 * Examples shown under every command's `--help`, keyed by the command's path (`pipeline run`).
 * A test checks that every command has some, so a new command cannot ship without them.
 */
import type { Command } from 'commander';

export const EXAMPLES: Record<string, string[]> = {
  init: ['strata init shop', 'strata init . --force'],
  schema: ['strata schema source', 'strata schema --project-names --out schemas'],
  validate: [
    'strata validate',
    'strata validate --database',
    'strata validate --engine postgres',
    'strata validate --format json | jq .diagnostics',
  ],
  import: [
    'strata import orders.csv --table app.orders',
    "strata import 'exports/*.parquet' --table app.events --mode replace",
    'strata import changes.json --table raw.orders --cdc',
  ],
  'generate source': [
    'strata generate source app.orders',
    'strata generate source public.customer --engine postgres --out -',
  ],
  docs: ['strata docs', 'strata docs --out site && open site/index.html'],
  compile: [
    'strata compile movies_in_production',
    'strata compile movies_in_production --dialect postgres --param country=ES',
    'strata compile movie_cast --explain',
    'strata compile --all --out build/sql',
  ],
  run: [
    'strata run movies_in_production',
    'strata run movie_cast --format csv --limit 100 > cast.csv',
    'strata run movies_in_production --as studio --attr region=EMEA',
  ],
  demo: ['strata demo', 'strata demo --database demo.duckdb'],
  compact: ['strata compact', 'strata compact talent --dry-run'],
  maintain: ['strata maintain', 'strata maintain studio_raw.talent_changes --retention 14d --json'],
  sync: ['strata sync movie-status', 'strata sync movie-status --dry-run'],
  runs: ['strata runs', 'strata runs movie-status --limit 5 --format json'],
  freshness: ['strata freshness', 'strata freshness movie-status --format json', 'strata freshness --check'],
  serve: ['strata serve', 'strata serve --port 8080 --with-worker --redis redis://127.0.0.1:6379'],
  worker: ['strata worker', 'strata worker --concurrency 4 --metrics-port 9464'],
  'pipeline run': ['strata pipeline run studio'],
  'pipeline status': ['strata pipeline status', 'strata pipeline status studio --json'],
  'pipeline pause': ['strata pipeline pause studio --reason "upstream migration"'],
  'pipeline resume': ['strata pipeline resume studio'],
  'pipeline audit': ['strata pipeline audit studio'],
  'pipeline dead-letters': ['strata pipeline dead-letters studio'],
  'apikey create': ['strata apikey create --id ops-dashboard --roles studio --attr region=EMEA'],
  'alerts test': ['strata alerts test', 'strata alerts test --channel team-slack'],
  impact: ['strata impact movie.title', 'strata impact production.country'],
  diff: ['strata diff --base origin/main', 'strata diff --base HEAD~1 --dialect duckdb'],
  completion: [
    'strata completion bash > ~/.local/share/bash-completion/completions/strata',
    "echo 'source <(strata completion zsh)' >> ~/.zshrc",
  ],
};

/** The command's path below the program: `pipeline run`. */
export function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** Every command that runs something (not a group such as `pipeline`). */
export function leafCommands(program: Command): Command[] {
  return program.commands.flatMap((c) => (c.commands.length > 0 ? leafCommands(c) : [c]));
}

/** Adds each command's examples to its help. */
export function addExamples(program: Command, examples: Record<string, string[]> = EXAMPLES): void {
  for (const command of leafCommands(program)) {
    const lines = examples[commandPath(command)];
    if (!lines) continue;
    command.addHelpText('after', `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`);
  }
}
