/**
 * The MySQL column type tests give text: compared byte by byte, without trailing-space
 * padding, as DuckDB, PostgreSQL ("C") and the oracle compare it (MySQL's default
 * collations ignore case; docs/dialects.md).
 */
export const MYSQL_TEXT = 'VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin';
