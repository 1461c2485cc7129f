/** A failure of `strata import` that its one-line message explains fully (no "--verbose" hint). */
export class ImportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImportError';
  }
}
