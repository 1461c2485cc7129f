#!/usr/bin/env node
/** `strata`: the stateless command line. Everything comes from --project DIR and the environment. */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import { DIALECTS, ENGINES } from './core/definitions/schema.js';
import { alertsTestCommand } from './cli/alerts-commands.js';
import { apiKeyCreateCommand } from './cli/apikey-commands.js';
import {
  compactCommand,
  compileCommand,
  demoCommand,
  runCommand as runInput,
  validateCommand,
  type ValidateFlags,
} from './cli/commands.js';
import { collectRepeated, runCommand, type GlobalOptions } from './cli/context.js';
import { addExamples } from './cli/examples.js';
import { freshnessCommand, runsCommand, syncCommand } from './cli/tracker-commands.js';
import { diffCommand, impactCommand } from './cli/review-commands.js';
import { docsCommand } from './cli/docs-commands.js';
import { serveCommand, workerCommand } from './cli/service-commands.js';
import {
  pipelineAuditCommand,
  pipelineDeadLettersCommand,
  pipelinePauseCommand,
  pipelineResumeCommand,
  pipelineRunCommand,
  pipelineStatusCommand,
} from './cli/pipeline-commands.js';
import { endQuietlyWhenOutputCloses } from './output/closed-pipe.js';
import { strataVersion } from './version.js';
import { initCommand } from './cli/init-commands.js';
import { schemaCommand } from './cli/schema-commands.js';

const program = new Command('strata')
  .description('Semantic layer for operational reporting: YAML definitions in, SQL and trackers out.')
  .option('--project <dir>', 'the project folder', '.')
  .option('--verbose', 'show stack traces on errors')
  .version(strataVersion(), '--version', 'print the version')
  .exitOverride()
  .configureOutput({ writeErr: (s) => process.stderr.write(s) });

const globals = (): GlobalOptions => program.opts<GlobalOptions>();
const engineOptions = (cmd: Command) =>
  cmd
    .option('--engine <engine>', ENGINES.join(' | '))
    .option('--database <file>', 'DuckDB database file (or PostgreSQL URL with --engine postgres)');
const paramOption = (cmd: Command) =>
  cmd.option('--param <name=value>', 'an input parameter (repeatable)', collectRepeated, []);
const callerOptions = (cmd: Command) =>
  cmd
    .option('--as <roles>', 'act as a caller with these roles (comma-separated) under the access policies')
    .option(
      '--attr <name=value>',
      'an attribute of that caller, for row filters (repeatable)',
      collectRepeated,
      [],
    );

program
  .command('validate')
  .description('validate every definition; print each error as path:line:col')
  .option('--engine <engine>', `check on this engine too: ${ENGINES.join(' | ')}`)
  .option(
    '--database [file]',
    'check on the database too: tables exist, every sql: compiles, types match (a DuckDB file, or PostgreSQL/MySQL URL)',
  )
  .option(
    '--format <format>',
    'table | json (one report on stdout: ok, counts, diagnostics with file, line, col)',
    'table',
  )
  .action((flags: ValidateFlags) =>
    runCommand(globals(), async () => validateCommand(globals().project, flags)),
  );

program
  .command('init [dir]')
  .description(
    'create a project: strata.yaml, the definition folders, a sample source and input, editor schemas (default: the current folder)',
  )
  .option('--force', 'write into a folder that is not empty (files already there are kept)')
  .action((dir: string | undefined, flags) =>
    runCommand(globals(), async () => initCommand(dir ?? '.', flags)),
  );

program
  .command('schema [kind]')
  .description(
    'print the JSON Schema of a kind of file (source, input, tracker, pipeline, config), or write them all',
  )
  .option('--out <dir>', 'write every schema into DIR (<kind>.schema.json)')
  .option(
    '--project-names',
    "narrow field, source and input references to the project's names, so editors complete them",
  )
  .action((kind: string | undefined, flags) =>
    runCommand(globals(), async () => schemaCommand(globals().project, kind, flags)),
  );

callerOptions(
  paramOption(
    engineOptions(
      program
        .command('compile [input]')
        .description('print the SQL of an input (name or file)')
        .addOption(new Option('--dialect <dialect>', DIALECTS.join(' | ')))
        .option('--all', 'compile every input')
        .option(
          '--views',
          'compile CREATE OR REPLACE VIEW statements for the latest view of every CDC source',
        )
        .option('--out <dir>', 'with --all: write one <name>.sql per input into DIR')
        .option('--explain', 'print the plan before and after the optimizer passes, then the SQL'),
    ),
  ),
).action((input: string | undefined, flags) =>
  runCommand(globals(), async () => compileCommand(globals().project, input, flags)),
);

callerOptions(
  paramOption(
    engineOptions(
      program
        .command('run <input>')
        .description('run an input and print the result')
        .option('--format <format>', 'table | csv | json | ndjson', 'table')
        .option(
          '--no-escape-formulas',
          "csv: write text cells starting with = + - @ as they are (by default they get a leading ')",
        )
        .option('--limit <n>', 'return at most N rows'),
    ),
  ),
).action((input: string, flags) =>
  runCommand(globals(), async () => runInput(globals().project, input, flags)),
);

engineOptions(
  program
    .command('demo')
    .description('build the demo studio warehouse (Iceberg; a plain DuckDB file with --database)')
    .addOption(
      new Option(
        '--source <kind>',
        'also create the operational table the studio pipeline replicates (studio.talent)',
      ).choices(['postgres']),
    )
    .option('--upstream <url>', 'the PostgreSQL for --source postgres (default: $STUDIO_DB_URL)'),
).action((flags) => runCommand(globals(), async () => demoCommand(globals().project, flags)));

engineOptions(
  program
    .command('compact [tables...]')
    .description('compact raw CDC tables to their latest row per key (all when none named)')
    .option('--dry-run', 'print the Trino maintenance statements instead of running anything')
    .option('--retention <age>', 'Trino: snapshot and orphan-file retention', '7d'),
).action((tables: string[], flags) =>
  runCommand(globals(), async () => compactCommand(globals().project, tables, flags)),
);

program
  .command('maintain [tables...]')
  .description(
    'warehouse maintenance of CDC tables (all when none named): compaction, manifest rewriting, snapshot expiry, orphan-file removal',
  )
  .option(
    '--retention <age>',
    'snapshots and orphan files older than this go (default: strata.yaml maintenance, else 7d; at least 1h)',
  )
  .option(
    '--tombstone-retention <age>',
    'deletes younger than this stay in compacted files (default: strata.yaml maintenance, else 30d)',
  )
  .option('--json', 'one JSON object per table')
  .action((tables: string[], flags) =>
    runCommand(globals(), async () => {
      const { maintainCommand } = await import('./cli/maintain-commands.js');
      return maintainCommand(globals().project, tables, flags);
    }),
  );

engineOptions(
  program
    .command('sync <tracker>')
    .description('run a tracker now: its input, then every destination')
    .option('--dry-run', 'print what would change in each destination; call no write API'),
).action((tracker: string, flags) =>
  runCommand(globals(), async () => syncCommand(globals().project, tracker, flags)),
);

program
  .command('runs [tracker]')
  .description('the recorded tracker runs, newest first')
  .option('--limit <n>', 'how many runs', '20')
  .option('--format <format>', 'table | json (every field, per-destination calls and errors)', 'table')
  .action((tracker: string | undefined, flags) =>
    runCommand(globals(), async () => runsCommand(globals().project, tracker, flags)),
  );

program
  .command('freshness [tracker]')
  .description(
    "each tracker's freshness: fresh, stale (no successful run within staleAfter schedule intervals), pending or unscheduled; its data's age",
  )
  .option('--format <format>', 'table | json', 'table')
  .option('--check', 'exit 1 when a tracker is stale (for monitoring scripts)')
  .action((tracker: string | undefined, flags) =>
    runCommand(globals(), async () => freshnessCommand(globals().project, tracker, flags)),
  );

const redisOptions = (cmd: Command) =>
  cmd
    .option(
      '--redis <url>',
      'Redis URL (default: strata.yaml redis.url, then REDIS_URL, then redis://127.0.0.1:6379)',
    )
    .option(
      '--queue-prefix <prefix>',
      'Redis key prefix of the job queue (default: STRATA_QUEUE_PREFIX, then strata)',
    )
    .option('--concurrency <n>', 'tracker jobs run at once by this process', '2')
    .option(
      '--shutdown-grace <ms>',
      'on SIGINT/SIGTERM, how long running jobs may finish before they are handed back to the queue',
      '20000',
    );

redisOptions(
  engineOptions(
    program
      .command('serve')
      .description(
        'the service: health, tracker and maintenance scheduling and (with strata.yaml auth:) authenticated routes, until SIGINT/SIGTERM',
      )
      .option('--port <port>', 'HTTP port', '3000')
      .option(
        '--host <host>',
        'interface to listen on (default: STRATA_SERVE_HOST, else 127.0.0.1; 0.0.0.0 exposes it: put TLS in front)',
      )
      .option('--with-worker', 'also run a tracker worker in this process'),
  ),
).action((flags) => runCommand(globals(), async () => serveCommand(globals().project, flags)));

redisOptions(
  engineOptions(
    program
      .command('worker')
      .description(
        'a worker for tracker runs, CDC pipelines and warehouse maintenance (scale out on one Redis), until SIGINT/SIGTERM',
      )
      .option(
        '--lock-duration <ms>',
        'how long a job stays with a worker that stopped answering before another takes it',
        '30000',
      )
      .option('--no-pipelines', 'run tracker jobs only: no CDC pipelines, no pipeline audits')
      .option(
        '--metrics-port <port>',
        'serve GET /metrics (Prometheus) on this port (default: strata.yaml metrics.port; off when neither is set)',
      )
      .option(
        '--metrics-host <host>',
        'interface of the metrics server (default: metrics.host, else 127.0.0.1)',
      )
      .option('--no-maintenance', 'no scheduled warehouse maintenance jobs'),
  ),
).action((flags) => runCommand(globals(), async () => workerCommand(globals().project, flags)));

const pipeline = program
  .command('pipeline')
  .description(
    'CDC pipelines (definitions/pipelines/*.yaml): run, status, pause, resume, audit, dead-letters',
  );
const leaseOptions = (cmd: Command) =>
  cmd
    .option(
      '--redis <url>',
      'Redis URL of the workers (default: strata.yaml redis.url, then REDIS_URL, then redis://127.0.0.1:6379)',
    )
    .option(
      '--queue-prefix <prefix>',
      'Redis key prefix of the workers (default: STRATA_QUEUE_PREFIX, then strata)',
    );

leaseOptions(
  pipeline
    .command('run <name>')
    .description(
      'run a pipeline in the foreground under its lease, until SIGINT/SIGTERM (exit 0), its source ends (0), it is paused (3) or fails (1)',
    ),
).action((name: string, flags) =>
  runCommand(globals(), async () => pipelineRunCommand(globals().project, name, flags)),
);

leaseOptions(
  pipeline
    .command('status [name]')
    .description(
      'status, worker and lease, position, lag, heartbeat, dead letters and last audit of each pipeline',
    )
    .option('--json', 'print JSON'),
).action((name: string | undefined, flags) =>
  runCommand(globals(), async () => pipelineStatusCommand(globals().project, name, flags)),
);

pipeline
  .command('pause <name>')
  .description('pause a pipeline: the worker running it commits what it read and stops, keeping its lease')
  .option('--reason <text>', 'why (shown by status)')
  .action((name: string, flags) =>
    runCommand(globals(), async () => pipelinePauseCommand(globals().project, name, flags)),
  );

pipeline
  .command('resume <name>')
  .description('resume a paused pipeline (the worker holding it starts it again at its next scan)')
  .action((name: string) =>
    runCommand(globals(), async () => pipelineResumeCommand(globals().project, name)),
  );

pipeline
  .command('audit <name>')
  .description(
    'compare the keys of the source and the raw tables now; exit 0 when they match, 1 on any mismatch',
  )
  .option('--wait <duration>', 'how long to wait for the pipeline to commit up to the source position', '60s')
  .option('--json', 'print JSON')
  .action((name: string, flags) =>
    runCommand(globals(), async () => pipelineAuditCommand(globals().project, name, flags)),
  );

pipeline
  .command('dead-letters <name>')
  .description('the events a processor gave up on, newest first')
  .option('--limit <n>', 'how many', '20')
  .option('--json', 'print JSON')
  .action((name: string, flags) =>
    runCommand(globals(), async () => pipelineDeadLettersCommand(globals().project, name, flags)),
  );

program
  .command('apikey')
  .description('API keys for strata serve (docs/auth.md)')
  .command('create')
  .description('print a new random API key (once) and the hashed entry to add to the API key file')
  .requiredOption('--id <id>', 'names the key in logs and audits (e.g. vendor-054-portal)')
  .requiredOption('--roles <roles>', "the caller's roles, comma-separated")
  .option(
    '--attr <name=value>',
    'an attribute of the caller, for row filters (repeatable)',
    collectRepeated,
    [],
  )
  .action((flags) => runCommand(globals(), async () => apiKeyCreateCommand(flags)));

program
  .command('alerts')
  .description('alert channels (docs/alerts.md)')
  .command('test')
  .description(
    'send a test notification to every channel of strata.yaml alerts: (or one); exit 1 if any delivery failed',
  )
  .option('--channel <name>', 'only this channel')
  .option('--to <address>', 'email channels: send to this address instead (repeatable)', collectRepeated, [])
  .action((flags) => runCommand(globals(), async () => alertsTestCommand(globals().project, flags)));

program
  .command('import <file>')
  .description(
    'load CSV, Parquet or JSON (a file or a quoted glob) into a table of the embedded Iceberg warehouse',
  )
  .requiredOption('--table <schema.table>', 'the warehouse table (created when missing)')
  .option('--mode <mode>', 'append | replace', 'append')
  .option('--cdc', 'a raw CDC table: add _op, _op_ts, _seq (docs/warehouse.md)')
  .option('--format <format>', 'csv | parquet | json (default: from the file extension)')
  .action((file: string, flags) =>
    runCommand(globals(), async () => {
      const { importCommand } = await import('./cli/import-command.js');
      return importCommand(globals().project, file, flags);
    }),
  );

const generate = program.command('generate').description('draft definitions from what exists');
engineOptions(
  generate
    .command('source <table>')
    .description('draft definitions/sources/<name>.yaml from a table (schema.table)')
    .option('--name <name>', 'the source name (default: the table name)')
    .option('--out <file>', "where to write the draft ('-' for stdout)")
    .option('--force', 'overwrite an existing file'),
).action((table: string, flags) =>
  runCommand(globals(), async () => {
    const { generateSourceCommand } = await import('./cli/generate-command.js');
    return generateSourceCommand(globals().project, table, flags);
  }),
);

program
  .command('impact <field>')
  .description('the inputs and trackers that use a field or measure (source.field)')
  .action((field: string) => runCommand(globals(), async () => impactCommand(globals().project, field)));

program
  .command('docs')
  .description('the catalog site (sources, join graph, inputs, trackers, pipelines, lineage) as static files')
  .option(
    '--out <dir>',
    'where to write index.html and catalog.json (default: .strata/catalog in the project)',
  )
  .option('--engine <engine>', 'the engine whose SQL dialect the compiled SQL is shown in')
  .action((flags: { out?: string; engine?: string }) =>
    runCommand(globals(), async () => docsCommand(globals().project, flags)),
  );

program
  .command('diff')
  .description('for each input and tracker, the change in its generated SQL since a git revision')
  .requiredOption('--base <git-ref>', 'the revision to compare with (e.g. origin/main)')
  .addOption(new Option('--dialect <dialect>', DIALECTS.join(' | ')))
  .action((flags) => runCommand(globals(), async () => diffCommand(globals().project, flags)));

program
  .command('completion [shell]')
  .description(
    "a shell completion script (bash | zsh): commands, options, and the project's inputs, trackers and pipelines",
  )
  .addOption(new Option('--names <kind>', 'print the names of inputs, trackers or pipelines').hideHelp())
  .action(async (shell: string | undefined, flags: { names?: string }) =>
    runCommand(globals(), async () => {
      const { completionNames, completionScript, shellOf } = await import('./cli/completion.js');
      if (flags.names)
        process.stdout.write(completionNames(globals().project, flags.names).join('\n') + '\n');
      else process.stdout.write(completionScript(program, shellOf(shell)));
      return 0;
    }),
  );

addExamples(program);

/** The command tree, for tests (importing this module parses nothing unless it is the program run). */
export { program };

/** True when this file is the program node runs (also through an npm bin symlink). */
function isMain(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isMain()) {
  endQuietlyWhenOutputCloses();
  try {
    await program.parseAsync(process.argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode === 0 ? 0 : 2;
    } else throw e;
  }
}
