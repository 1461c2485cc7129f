/**
 * What the catalog shows beside the definitions: each tracker's last runs and freshness, and
 * each pipeline's state and lag, read from the run history and pipeline state store. A store
 * that cannot be read leaves those parts out rather than failing the page.
 */
import type { CatalogFreshness, CatalogPipelineState, CatalogRun, CatalogRuntime } from '../core/catalog.js';
import type { LoadedProject } from '../project/load-project.js';
import { PipelineStateStore } from '../pipelines/state.js';
import { trackerFreshness } from '../trackers/freshness.js';
import { RunHistory, type TrackerRun } from '../trackers/history.js';
import { historyLocation } from '../trackers/locations.js';

/** Runs shown per tracker. */
const RUNS_SHOWN = 5;

function catalogRun(run: TrackerRun): CatalogRun {
  return {
    id: run.id,
    status: run.status,
    trigger: run.trigger,
    startedAt: run.startedAt,
    ...(run.endedAt ? { endedAt: run.endedAt } : {}),
    rows: run.rows,
    ...(run.error ? { error: run.error } : {}),
  };
}

async function trackerRuntime(
  projectDir: string,
  project: LoadedProject,
): Promise<Pick<CatalogRuntime, 'runs' | 'freshness'>> {
  if (project.model.trackers.size === 0) return {};
  const history = await RunHistory.open(historyLocation(projectDir, project.config));
  try {
    const runs = new Map<string, CatalogRun[]>();
    const freshness = new Map<string, CatalogFreshness>();
    const staleAfter = project.config.freshness?.staleAfter;
    for (const tracker of project.model.trackers.values()) {
      runs.set(
        tracker.name,
        (await history.list({ tracker: tracker.name, limit: RUNS_SHOWN })).map(catalogRun),
      );
      const f = await trackerFreshness(tracker, history, staleAfter ? { staleAfter } : {});
      freshness.set(tracker.name, {
        state: f.state,
        reason: f.reason,
        ...(f.lastSuccessAt ? { lastSuccessAt: f.lastSuccessAt } : {}),
        ...(f.dataAgeSeconds !== undefined ? { dataAgeSeconds: f.dataAgeSeconds } : {}),
      });
    }
    return { runs, freshness };
  } finally {
    await history.close();
  }
}

async function pipelineRuntime(
  projectDir: string,
  project: LoadedProject,
): Promise<Pick<CatalogRuntime, 'pipelines'>> {
  if (project.model.pipelines.size === 0) return {};
  const store = await PipelineStateStore.open(historyLocation(projectDir, project.config));
  try {
    const pipelines = new Map<string, CatalogPipelineState>();
    for (const s of await store.list()) {
      pipelines.set(s.name, {
        status: s.status,
        ...(s.lagSeconds !== undefined ? { lagSeconds: s.lagSeconds } : {}),
        ...(s.lagEvents !== undefined ? { lagEvents: s.lagEvents } : {}),
        ...(s.lagBytes !== undefined ? { lagBytes: s.lagBytes } : {}),
        ...(s.lastCommitAt ? { lastCommitAt: s.lastCommitAt } : {}),
        ...(s.error ? { error: s.error } : {}),
      });
    }
    return { pipelines };
  } finally {
    await store.close();
  }
}

/** Runs, freshness and pipeline state; each part left out when its store cannot be read. */
export async function catalogRuntime(projectDir: string, project: LoadedProject): Promise<CatalogRuntime> {
  const [trackers, pipelines] = await Promise.all([
    trackerRuntime(projectDir, project).catch(() => ({})),
    pipelineRuntime(projectDir, project).catch(() => ({})),
  ]);
  return { ...trackers, ...pipelines };
}
