/**
 * The project the service serves: the LAST GOOD state of its definitions. Reloads when files
 * under definitions/ or trackers/ (or strata.yaml) change, and every `reloadIntervalMs`. A
 * reload with errors logs each one (once, until they change) and keeps the last good state,
 * so a half-saved file never unschedules a tracker or takes the service down. The scheduler
 * (and the GraphQL API, later) read `current` and listen for new states.
 */
import { existsSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { Logger as PinoLogger } from 'pino';
import { Compiler } from '../../core/compile.js';
import { error as diagnostic, formatDiagnostic, type Diagnostic } from '../../core/diagnostics.js';
import { checkTracker } from '../../core/trackers.js';
import { registerConfiguredSecrets } from '../../engines/secrets.js';
import { loadProject, type LoadedProject } from '../../project/load-project.js';
import { SERVICE_OPTIONS, type ResolvedServiceOptions } from '../options.js';

export interface ProjectState {
  project: LoadedProject;
  compiler: Compiler;
  loadedAt: Date;
}

export type ReloadOutcome =
  { status: 'loaded'; state: ProjectState } | { status: 'invalid'; problems: Diagnostic[] };

type Listener = (outcome: ReloadOutcome) => void;

/** Only these names, directly in the project folder, are definitions. */
const WATCHED = new Set(['definitions', 'trackers', 'strata.yaml', 'strata.yml']);

@Injectable()
export class ProjectService implements OnModuleInit, OnApplicationShutdown {
  private state: ProjectState | undefined;
  private problemsNow: Diagnostic[] = [];
  private loggedProblems = '';
  private readonly listeners = new Set<Listener>();
  private readonly watchers = new Map<string, FSWatcher>();
  private debounce: NodeJS.Timeout | undefined;
  private interval: NodeJS.Timeout | undefined;
  private readonly log: PinoLogger;

  constructor(@Inject(SERVICE_OPTIONS) private readonly options: ResolvedServiceOptions) {
    this.log = options.logger.child({ component: 'definitions' });
  }

  /** The last good definitions (undefined until the project was once valid). */
  get current(): ProjectState | undefined {
    return this.state;
  }

  /** The errors of the latest reload (empty when it was valid). */
  get problems(): readonly Diagnostic[] {
    return this.problemsNow;
  }

  onReload(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onModuleInit(): void {
    this.reload();
    if (this.options.watch ?? true) this.watchFiles();
    const every = this.options.reloadIntervalMs ?? 60_000;
    if (every > 0) this.interval = setInterval(() => this.reload(), every).unref();
  }

  onApplicationShutdown(): void {
    clearTimeout(this.debounce);
    clearInterval(this.interval);
    for (const watcher of this.watchers.values()) watcher.close();
    this.watchers.clear();
    this.listeners.clear();
  }

  /** Loads and validates the project; a valid one becomes `current`. Never throws. */
  reload(): ReloadOutcome {
    const outcome = this.load();
    if (outcome.status === 'loaded') {
      this.state = outcome.state;
      this.problemsNow = [];
      if (this.loggedProblems) this.log.info('definitions are valid again');
      this.loggedProblems = '';
      this.log.debug({ trackers: outcome.state.project.model.trackers.size }, 'definitions loaded');
    } else {
      this.problemsNow = outcome.problems;
      const text = outcome.problems.map(formatDiagnostic).join('\n');
      if (text !== this.loggedProblems) {
        for (const line of outcome.problems.map(formatDiagnostic)) this.log.error(line);
        this.log.warn(
          { errors: outcome.problems.length },
          this.state
            ? `invalid definitions: keeping the state loaded at ${this.state.loadedAt.toISOString()}`
            : 'invalid definitions: nothing loaded yet',
        );
        this.loggedProblems = text;
      }
    }
    for (const listener of this.listeners) listener(outcome);
    return outcome;
  }

  private load(): ReloadOutcome {
    try {
      const project = loadProject(this.options.projectDir);
      registerConfiguredSecrets({
        config: project.config,
        trackers: project.model.trackers.values(),
        pipelines: project.model.pipelines.values(),
      });
      const compiler = new Compiler(project.model);
      const problems = project.diagnostics.filter((d) => d.severity === 'error');
      if (problems.length === 0) {
        for (const tracker of project.model.trackers.values())
          problems.push(...checkTracker(tracker, compiler).filter((d) => d.severity === 'error'));
      }
      if (problems.length > 0) return { status: 'invalid', problems };
      return { status: 'loaded', state: { project, compiler, loadedAt: new Date() } };
    } catch (e) {
      return {
        status: 'invalid',
        problems: [diagnostic('load_failed', `cannot load the project: ${(e as Error).message}`)],
      };
    }
  }

  /**
   * fs.watch on the project folder (for strata.yaml and folders appearing) and, recursively,
   * on definitions/ and trackers/. Editors write files in several steps: changes are debounced.
   */
  private watchFiles(): void {
    const dir = this.options.projectDir;
    this.watchOne(dir, false, (file, event) => {
      if (!file || !WATCHED.has(file)) return false;
      if (event === 'rename') {
        // A folder created, replaced or removed: watch whatever is there now.
        const path = join(dir, file);
        this.watchers.get(path)?.close();
        this.watchers.delete(path);
        this.watchFolders();
      }
      return true;
    });
    this.watchFolders();
  }

  private watchFolders(): void {
    for (const folder of ['definitions', 'trackers']) {
      const path = join(this.options.projectDir, folder);
      if (!this.watchers.has(path) && existsSync(path)) this.watchOne(path, true, () => true);
    }
  }

  private watchOne(
    path: string,
    recursive: boolean,
    relevant: (file: string | null, event: string) => boolean,
  ): void {
    try {
      const watcher = watch(path, { recursive, persistent: false }, (event, file) => {
        if (relevant(file === null ? null : String(file), event)) this.scheduleReload();
      });
      watcher.on('error', () => {
        // The folder was removed: forget it; the project folder's watcher notices it coming back.
        watcher.close();
        this.watchers.delete(path);
        this.scheduleReload();
      });
      this.watchers.set(path, watcher);
    } catch (e) {
      this.log.warn(
        { path, error: (e as Error).message },
        'cannot watch for changes; reloading on the interval only',
      );
    }
  }

  private scheduleReload(): void {
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => this.reload(), this.options.debounceMs ?? 300);
  }
}
