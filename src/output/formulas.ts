/**
 * CSV formula injection: Excel, Google Sheets and LibreOffice read a cell that starts with
 * `=`, `+`, `-` or `@` (or a tab or carriage return, which they skip first) as a formula, so a
 * text value from the data can run one on the reader's machine. The usual neutralisation
 * (OWASP) prefixes such cells with `'`, which spreadsheets show as text and hide. It applies to
 * text cells only: a typed number such as -5 is never touched.
 */
const FORMULA_START = /^[=+\-@\t\r]/;

export function escapeFormula(text: string): string {
  return FORMULA_START.test(text) ? `'${text}` : text;
}
