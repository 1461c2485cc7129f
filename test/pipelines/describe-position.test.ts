/** Positions as `strata pipeline status` shows them. */
import { describe, expect, it } from 'vitest';
import { describePosition } from '../../src/pipelines/sources/describe.js';

describe('describePosition', () => {
  it('shows a PostgreSQL position as its LSN, with the snapshot in progress', () => {
    expect(describePosition('{"base":"0/10","restart":"0/18842598","tables":["s.t"]}')).toBe(
      'LSN 0/18842598',
    );
    expect(
      describePosition(
        '{"base":"0/10","restart":"0/20","tables":[],"snapshot":{"table":"s.t","after":["42"]}}',
      ),
    ).toBe('LSN 0/20; snapshot of s.t after key ["42"]');
  });

  it('shows a Debezium file line and a stream sequence, and anything else as it is', () => {
    expect(describePosition('{"file":"cdc/a.ndjson","index":0,"line":12,"offset":900}')).toBe(
      'cdc/a.ndjson:12',
    );
    expect(describePosition('{"stream":"DBZ","seq":7,"base":0}')).toBe('stream DBZ sequence 7');
    expect(describePosition('3')).toBe('3');
    expect(describePosition('not json')).toBe('not json');
  });
});
