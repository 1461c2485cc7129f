/** The JDBC-catalog layout and its compare-and-swap, in SQLite and PostgreSQL. */
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TableExistsError, type IcebergCatalog } from '../../src/warehouse/index.js';
import { POSTGRES_URL, TestEnvironment, type CatalogKind } from './support.js';

describe.each<CatalogKind>(['sqlite', 'postgres'])('%s catalog', (kind) => {
  let env: TestEnvironment;
  let catalog: IcebergCatalog;
  const orders = { namespace: 'sales', name: 'orders' };

  beforeEach(async () => {
    env = await TestEnvironment.create(kind);
    catalog = await env.catalog();
  });
  afterEach(async () => env.dispose());

  it('registers, swaps and drops tables', async () => {
    expect(catalog.name).toBe(env.catalogName);
    await catalog.createNamespace('sales');
    await catalog.createNamespace('sales');
    expect(await catalog.listNamespaces()).toEqual(['sales']);
    expect(await catalog.currentMetadataLocation(orders)).toBeUndefined();
    await catalog.registerTable(orders, 'file:///m/1.json');
    await expect(catalog.registerTable(orders, 'file:///m/x.json')).rejects.toBeInstanceOf(TableExistsError);
    expect(await catalog.currentMetadataLocation(orders)).toBe('file:///m/1.json');

    expect(await catalog.swapMetadataLocation(orders, 'file:///m/1.json', 'file:///m/2.json')).toBe(true);
    // A writer still holding the old location loses.
    expect(await catalog.swapMetadataLocation(orders, 'file:///m/1.json', 'file:///m/3.json')).toBe(false);
    expect(await catalog.currentMetadataLocation(orders)).toBe('file:///m/2.json');

    await catalog.registerTable({ namespace: 'hr', name: 'people' }, 'file:///p/1.json');
    expect(await catalog.listTables()).toEqual([{ namespace: 'hr', name: 'people' }, orders]);
    expect(await catalog.listTables('sales')).toEqual([orders]);
    await catalog.dropTable(orders);
    await catalog.dropTable(orders);
    expect(await catalog.listTables('sales')).toEqual([]);
  });

  it('lets exactly one of many concurrent swaps from the same version win', async () => {
    const others = await Promise.all([1, 2, 3].map(() => env.catalog()));
    await catalog.registerTable(orders, 'v0');
    const results = await Promise.all(
      [catalog, ...others].map((c, i) => c.swapMetadataLocation(orders, 'v0', `v1-${i}`)),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it('uses the Java JdbcCatalog tables and rows', async () => {
    await catalog.createNamespace('sales');
    await catalog.registerTable(orders, 'file:///m/1.json');
    await catalog.swapMetadataLocation(orders, 'file:///m/1.json', 'file:///m/2.json');
    const sql = {
      tables: `SELECT catalog_name, table_namespace, table_name, metadata_location, previous_metadata_location, iceberg_type
               FROM iceberg_tables WHERE catalog_name = '${env.catalogName}'`,
      namespaces: `SELECT catalog_name, namespace, property_key, property_value
                   FROM iceberg_namespace_properties WHERE catalog_name = '${env.catalogName}'`,
    };
    const rows = kind === 'sqlite' ? sqliteRows(env.sqlitePath, sql) : await postgresRows(sql);
    expect(rows.tables).toEqual([
      {
        catalog_name: env.catalogName,
        table_namespace: 'sales',
        table_name: 'orders',
        metadata_location: 'file:///m/2.json',
        previous_metadata_location: 'file:///m/1.json',
        iceberg_type: 'TABLE',
      },
    ]);
    expect(rows.namespaces).toEqual([
      { catalog_name: env.catalogName, namespace: 'sales', property_key: 'exists', property_value: 'true' },
    ]);
  });
});

type Rows = { tables: unknown[]; namespaces: unknown[] };

function sqliteRows(path: string, sql: { tables: string; namespaces: string }): Rows {
  const db = new Database(path, { readonly: true });
  try {
    return { tables: db.prepare(sql.tables).all(), namespaces: db.prepare(sql.namespaces).all() };
  } finally {
    db.close();
  }
}

async function postgresRows(sql: { tables: string; namespaces: string }): Promise<Rows> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    return {
      tables: (await client.query(sql.tables)).rows,
      namespaces: (await client.query(sql.namespaces)).rows,
    };
  } finally {
    await client.end();
  }
}
