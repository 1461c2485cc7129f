/** `strata impact`'s answers (and so the catalog's lineage): join keys, shared columns, measure filters. */
import { describe, expect, it } from 'vitest';
import { tableLineage, usagesOf } from '../../src/core/impact.js';
import { exampleProject } from '../support/example-project.js';

const { model } = exampleProject().project;

describe('impact', () => {
  it('counts a field used as a join key', () => {
    // movie_cast selects no movie field but joins movie to movie_talent on movie_id.
    expect(usagesOf(model, 'movie.movie_id').inputs).toContain('movie_cast');
  });

  it("counts a column read by a measure's filter", () => {
    // movie_summary_by_genre names movie.active_movie_count, whose filter reads status.
    expect(usagesOf(model, 'movie.status').inputs).toContain('movie_summary_by_genre');
  });

  it("counts a column read by a computed field or a measure's SQL", () => {
    expect(usagesOf(model, 'movie.runtime_seconds').inputs).toContain('movie_summary_by_genre');
    expect(usagesOf(model, 'movie.budget_usd').inputs).toEqual(
      expect.arrayContaining(usagesOf(model, 'movie.total_budget').inputs),
    );
  });

  it('does not widen a measure or computed field to what merely shares its columns', () => {
    expect(usagesOf(model, 'movie.total_budget').inputs).toEqual([
      'budget_by_production_country',
      'movie_summary_by_genre',
    ]);
  });

  it('keeps the answers it gave before', () => {
    expect(usagesOf(model, 'production.start_date')).toEqual({
      inputs: [
        'movies_in_production',
        'productions_by_quarter',
        'productions_missing_plan',
        'productions_shooting_abroad',
      ],
      trackers: ['movie-status'],
    });
  });

  it("counts a related field a measure reads ({source.field}) and a measure at another grain's own query", () => {
    // shoot_days_abroad_by_production names shoot_day.abroad_day_count, whose filter reads
    // {location.country} and {production.country}; long_shoot_days compares with
    // shoot_day.avg_actual_hours per production, a query of its own over shoot_day.
    expect(usagesOf(model, 'location.country').inputs).toContain('shoot_days_abroad_by_production');
    expect(usagesOf(model, 'shoot_day.avg_actual_hours').inputs).toEqual(['long_shoot_days']);
    expect(usagesOf(model, 'shoot_day.production_id').inputs).toContain('long_shoot_days');
  });

  it('follows a raw table to its sources, fields, inputs and trackers', () => {
    const lineage = tableLineage(model, 'studio.movie');
    expect(lineage.sources).toEqual(['movie']);
    expect(lineage.fields).toContain('movie.movie_id');
    expect(lineage.inputs).toContain('movie_cast');
    expect(lineage.trackers).toEqual(['movie-status', 'talent-roster']);
  });
});
