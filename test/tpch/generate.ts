/**
 * A tiny, deterministic TPC-H-shaped data set (about scale factor 0.001) and its loaders.
 *
 * DuckDB's tpch extension is not available offline, so this follows the shape of dbgen's
 * rules (TPC-H 2.x, section 4.2.3) closely enough for the 22 questions to return
 * non-empty, non-trivial answers: the standard vocabularies (flags, statuses, priorities,
 * ship modes and instructions, segments, brands, types, containers, part-name colors),
 * order dates spread over 1992-01-01 .. 1998-08-02, ship/commit/receipt dates derived from
 * them, return flags and line statuses from the 1995-06-17 "current date", one customer in
 * three without orders, and no NULLs. Values are kept free of quotes and backslashes, so
 * they are written as plain SQL literals.
 */
import type { Engine } from '../../src/engines/engine.js';
import { toMySqlDdl } from '../support/databases.js';
import { prng } from '../support/prng.js';

/** The scale: small enough to load in a second, large enough for every question. */
export const SCALE = {
  suppliers: 32,
  customers: 150,
  parts: 100,
  orders: 1500,
} as const;

export const REGIONS = ['AFRICA', 'AMERICA', 'ASIA', 'EUROPE', 'MIDDLE EAST'];
/** [name, regionkey], nationkey being the index (TPC-H 4.2.3). */
export const NATIONS: [string, number][] = [
  ['ALGERIA', 0],
  ['ARGENTINA', 1],
  ['BRAZIL', 1],
  ['CANADA', 1],
  ['EGYPT', 4],
  ['ETHIOPIA', 0],
  ['FRANCE', 3],
  ['GERMANY', 3],
  ['INDIA', 2],
  ['INDONESIA', 2],
  ['IRAN', 4],
  ['IRAQ', 4],
  ['JAPAN', 2],
  ['JORDAN', 4],
  ['KENYA', 0],
  ['MOROCCO', 0],
  ['MOZAMBIQUE', 0],
  ['PERU', 1],
  ['CHINA', 2],
  ['ROMANIA', 3],
  ['SAUDI ARABIA', 4],
  ['VIETNAM', 2],
  ['RUSSIA', 3],
  ['UNITED KINGDOM', 3],
  ['UNITED STATES', 1],
];
export const SEGMENTS = ['AUTOMOBILE', 'BUILDING', 'FURNITURE', 'HOUSEHOLD', 'MACHINERY'];
export const PRIORITIES = ['1-URGENT', '2-HIGH', '3-MEDIUM', '4-NOT SPECIFIED', '5-LOW'];
export const SHIP_INSTRUCTIONS = ['DELIVER IN PERSON', 'COLLECT COD', 'NONE', 'TAKE BACK RETURN'];
export const SHIP_MODES = ['REG AIR', 'AIR', 'RAIL', 'SHIP', 'TRUCK', 'MAIL', 'FOB'];
const TYPE_S1 = ['STANDARD', 'SMALL', 'MEDIUM', 'LARGE', 'ECONOMY', 'PROMO'];
const TYPE_S2 = ['ANODIZED', 'BURNISHED', 'PLATED', 'POLISHED', 'BRUSHED'];
const TYPE_S3 = ['TIN', 'NICKEL', 'BRASS', 'STEEL', 'COPPER'];
const CONTAINER_S1 = ['SM', 'LG', 'MED', 'JUMBO', 'WRAP'];
const CONTAINER_S2 = ['CASE', 'BOX', 'BAG', 'JAR', 'PKG', 'PACK', 'CAN', 'DRUM'];
/** The 92 part-name words of dbgen. */
const COLORS = (
  'almond antique aquamarine azure beige bisque black blanched blue blush brown burlywood burnished ' +
  'chartreuse chiffon chocolate coral cornflower cornsilk cream cyan dark deep dim dodger drab firebrick ' +
  'floral forest frosted gainsboro ghost goldenrod green grey honeydew hot indian ivory khaki lace lavender ' +
  'lawn lemon light lime linen magenta maroon medium metallic midnight mint misty moccasin navajo navy olive ' +
  'orange orchid pale papaya peach peru pink plum powder puff purple red rose rosy royal saddle salmon sandy ' +
  'seashell sienna sky slate smoke snow spring steel tan thistle tomato turquoise violet wheat white yellow'
).split(' ');
const WORDS = (
  'furiously carefully quickly slyly blithely regular final express pending ironic even bold silent ' +
  'unusual special ideas accounts packages deposits requests instructions theodolites pinto beans foxes ' +
  'platelets dependencies asymptotes courts dolphins sleep wake are haggle nag use boost affix detect ' +
  'integrate cajole among about above across after'
).split(' ');

export const CURRENT_DATE = '1995-06-17';
const START_DATE = Date.UTC(1992, 0, 1);
const END_ORDER_DATE = Date.UTC(1998, 7, 2) - 151 * 86_400_000;
const DAY = 86_400_000;

export type Value = number | string | { date: string } | { decimal: number };
export interface Table {
  name: string;
  /** Column name and SQL type, in order. */
  columns: [string, string][];
  rows: Value[][];
}

function dateValue(ms: number): { date: string } {
  return { date: new Date(ms).toISOString().slice(0, 10) };
}

/** Cents as a decimal(15,2). */
function money(cents: number): { decimal: number } {
  return { decimal: cents };
}

/** Every table of the data set, in load order. */
export function generate(seed = 20260613): Table[] {
  const random = prng(seed);
  const int = (lo: number, hi: number): number => lo + Math.floor(random() * (hi - lo + 1));
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const text = (min: number, max: number): string =>
    Array.from({ length: int(min, max) }, () => pick(WORDS)).join(' ');
  const pad = (n: number, width = 9): string => String(n).padStart(width, '0');
  const phone = (nation: number): string =>
    `${nation + 10}-${int(100, 999)}-${int(100, 999)}-${int(1000, 9999)}`;
  const address = (): string =>
    Array.from({ length: int(10, 25) }, () => 'abcdefghijklmnopqrstuvwxyz0123456789 ,'[int(0, 38)]).join('');

  const region: Table = {
    name: 'region',
    columns: [
      ['r_regionkey', 'INTEGER'],
      ['r_name', 'VARCHAR'],
      ['r_comment', 'VARCHAR'],
    ],
    rows: REGIONS.map((name, key) => [key, name, text(3, 8)]),
  };
  const nation: Table = {
    name: 'nation',
    columns: [
      ['n_nationkey', 'INTEGER'],
      ['n_name', 'VARCHAR'],
      ['n_regionkey', 'INTEGER'],
      ['n_comment', 'VARCHAR'],
    ],
    rows: NATIONS.map(([name, regionKey], key) => [key, name, regionKey, text(3, 8)]),
  };

  const supplierNation: number[] = [];
  const supplier: Table = {
    name: 'supplier',
    columns: [
      ['s_suppkey', 'INTEGER'],
      ['s_name', 'VARCHAR'],
      ['s_address', 'VARCHAR'],
      ['s_nationkey', 'INTEGER'],
      ['s_phone', 'VARCHAR'],
      ['s_acctbal', 'DECIMAL(15,2)'],
      ['s_comment', 'VARCHAR'],
    ],
    rows: [],
  };
  for (let key = 1; key <= SCALE.suppliers; key++) {
    // Every nation has a supplier (nations 0-6 have two), as Q2, Q5, Q7, Q8, Q11, Q20, Q21 need.
    const nationKey = (key - 1) % NATIONS.length;
    supplierNation[key] = nationKey;
    // dbgen puts "Customer ... Complaints" (and "Recommends") into some comments (Q16).
    const comment =
      key % 10 === 7
        ? `${text(1, 3)} Customer ${text(0, 2)} Complaints ${text(1, 3)}`
        : key % 10 === 3
          ? `${text(1, 3)} Customer ${text(0, 2)} Recommends ${text(1, 3)}`
          : text(4, 10);
    supplier.rows.push([
      key,
      `Supplier#${pad(key)}`,
      address(),
      nationKey,
      phone(nationKey),
      money(int(-99_999, 999_999)),
      comment,
    ]);
  }

  const retailCents: number[] = [];
  const part: Table = {
    name: 'part',
    columns: [
      ['p_partkey', 'INTEGER'],
      ['p_name', 'VARCHAR'],
      ['p_mfgr', 'VARCHAR'],
      ['p_brand', 'VARCHAR'],
      ['p_type', 'VARCHAR'],
      ['p_size', 'INTEGER'],
      ['p_container', 'VARCHAR'],
      ['p_retailprice', 'DECIMAL(15,2)'],
      ['p_comment', 'VARCHAR'],
    ],
    rows: [],
  };
  for (let key = 1; key <= SCALE.parts; key++) {
    const words: string[] = [];
    while (words.length < 5) {
      const w = pick(COLORS);
      if (!words.includes(w)) words.push(w);
    }
    // A few more "forest" parts than chance gives 100 parts (Q20 asks for names starting with it).
    if (key % 12 === 5 && !words.includes('forest')) words[0] = 'forest';
    const m = int(1, 5);
    const cents = 90_000 + (Math.floor(key / 10) % 20_001) + 100 * (key % 1000);
    retailCents[key] = cents;
    part.rows.push([
      key,
      words.join(' '),
      `Manufacturer#${m}`,
      `Brand#${m}${int(1, 5)}`,
      `${pick(TYPE_S1)} ${pick(TYPE_S2)} ${pick(TYPE_S3)}`,
      int(1, 50),
      `${pick(CONTAINER_S1)} ${pick(CONTAINER_S2)}`,
      money(cents),
      text(1, 4),
    ]);
  }

  const partsupp: Table = {
    name: 'partsupp',
    columns: [
      ['ps_partkey', 'INTEGER'],
      ['ps_suppkey', 'INTEGER'],
      ['ps_availqty', 'INTEGER'],
      ['ps_supplycost', 'DECIMAL(15,2)'],
      ['ps_comment', 'VARCHAR'],
    ],
    rows: [],
  };
  /** The four suppliers of a part (dbgen's formula, integer division): distinct for 32 suppliers. */
  const suppliersOf = (partKey: number): number[] => {
    const step = Math.floor(SCALE.suppliers / 4) + Math.floor((partKey - 1) / SCALE.suppliers);
    return [0, 1, 2, 3].map((i) => ((partKey + i * step) % SCALE.suppliers) + 1);
  };
  for (let key = 1; key <= SCALE.parts; key++) {
    const suppliers = suppliersOf(key);
    if (new Set(suppliers).size !== 4) throw new Error(`part ${key} has suppliers ${suppliers.join(', ')}`);
    for (const supp of suppliers) {
      partsupp.rows.push([key, supp, int(1, 9999), money(int(100, 100_000)), text(3, 10)]);
    }
  }

  const customer: Table = {
    name: 'customer',
    columns: [
      ['c_custkey', 'INTEGER'],
      ['c_name', 'VARCHAR'],
      ['c_address', 'VARCHAR'],
      ['c_nationkey', 'INTEGER'],
      ['c_phone', 'VARCHAR'],
      ['c_acctbal', 'DECIMAL(15,2)'],
      ['c_mktsegment', 'VARCHAR'],
      ['c_comment', 'VARCHAR'],
    ],
    rows: [],
  };
  for (let key = 1; key <= SCALE.customers; key++) {
    const nationKey = int(0, NATIONS.length - 1);
    customer.rows.push([
      key,
      `Customer#${pad(key)}`,
      address(),
      nationKey,
      phone(nationKey),
      money(int(-99_999, 999_999)),
      pick(SEGMENTS),
      text(3, 10),
    ]);
  }

  const orders: Table = {
    name: 'orders',
    columns: [
      ['o_orderkey', 'INTEGER'],
      ['o_custkey', 'INTEGER'],
      ['o_orderstatus', 'VARCHAR'],
      ['o_totalprice', 'DECIMAL(15,2)'],
      ['o_orderdate', 'DATE'],
      ['o_orderpriority', 'VARCHAR'],
      ['o_clerk', 'VARCHAR'],
      ['o_shippriority', 'INTEGER'],
      ['o_comment', 'VARCHAR'],
    ],
    rows: [],
  };
  const lineitem: Table = {
    name: 'lineitem',
    columns: [
      ['l_orderkey', 'INTEGER'],
      ['l_partkey', 'INTEGER'],
      ['l_suppkey', 'INTEGER'],
      ['l_linenumber', 'INTEGER'],
      ['l_quantity', 'DECIMAL(15,2)'],
      ['l_extendedprice', 'DECIMAL(15,2)'],
      ['l_discount', 'DECIMAL(15,2)'],
      ['l_tax', 'DECIMAL(15,2)'],
      ['l_returnflag', 'VARCHAR'],
      ['l_linestatus', 'VARCHAR'],
      ['l_shipdate', 'DATE'],
      ['l_commitdate', 'DATE'],
      ['l_receiptdate', 'DATE'],
      ['l_shipinstruct', 'VARCHAR'],
      ['l_shipmode', 'VARCHAR'],
      ['l_comment', 'VARCHAR'],
    ],
    rows: [],
  };
  const current = Date.parse(`${CURRENT_DATE}T00:00:00Z`);
  const orderDays = Math.floor((END_ORDER_DATE - START_DATE) / DAY);
  for (let i = 1; i <= SCALE.orders; i++) {
    // dbgen leaves gaps in order keys (8 used of every 32); so do we, sparsely.
    const orderKey = i + 4 * Math.floor((i - 1) / 8);
    let custKey = int(1, SCALE.customers);
    while (custKey % 3 === 0) custKey = int(1, SCALE.customers); // a third of customers never order
    const orderDate = START_DATE + int(0, orderDays) * DAY;
    let totalCents = 0;
    const statuses = new Set<string>();
    const lines = int(1, 7);
    for (let line = 1; line <= lines; line++) {
      const partKey = int(1, SCALE.parts);
      const suppKey = pick(suppliersOf(partKey));
      const quantity = int(1, 50);
      const extended = quantity * retailCents[partKey]!;
      const discount = int(0, 10);
      const tax = int(0, 8);
      const shipDate = orderDate + int(1, 121) * DAY;
      const commitDate = orderDate + int(30, 90) * DAY;
      const receiptDate = shipDate + int(1, 30) * DAY;
      const returnFlag = receiptDate <= current ? pick(['R', 'A']) : 'N';
      const lineStatus = shipDate > current ? 'O' : 'F';
      statuses.add(lineStatus);
      totalCents += Math.round((extended * (100 + tax) * (100 - discount)) / 10_000);
      lineitem.rows.push([
        orderKey,
        partKey,
        suppKey,
        line,
        money(quantity * 100),
        money(extended),
        money(discount),
        money(tax),
        returnFlag,
        lineStatus,
        dateValue(shipDate),
        dateValue(commitDate),
        dateValue(receiptDate),
        pick(SHIP_INSTRUCTIONS),
        pick(SHIP_MODES),
        text(2, 6),
      ]);
    }
    const status = statuses.size > 1 ? 'P' : [...statuses][0]!;
    // Some order comments say "special ... requests" (Q13 leaves those orders out).
    const comment = i % 9 === 4 ? `${text(1, 2)} special ${text(0, 2)} requests ${text(1, 2)}` : text(3, 9);
    orders.rows.push([
      orderKey,
      custKey,
      status,
      money(totalCents),
      dateValue(orderDate),
      pick(PRIORITIES),
      `Clerk#${pad(int(1, 10))}`,
      0,
      comment,
    ]);
  }
  return [region, nation, supplier, part, partsupp, customer, orders, lineitem];
}

function literal(value: Value): string {
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return `'${value}'`;
  if ('date' in value) return `DATE '${value.date}'`;
  const sign = value.decimal < 0 ? '-' : '';
  const abs = Math.abs(value.decimal);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

const PRIMARY_KEYS: Record<string, string[]> = {
  region: ['r_regionkey'],
  nation: ['n_nationkey'],
  supplier: ['s_suppkey'],
  part: ['p_partkey'],
  partsupp: ['ps_partkey', 'ps_suppkey'],
  customer: ['c_custkey'],
  orders: ['o_orderkey'],
  lineitem: ['l_orderkey', 'l_linenumber'],
};

/** The statements that create and fill the tables in `schema` (which they also create). */
export function loadStatements(engine: Engine, schema: string, tables: Table[] = generate()): string[] {
  const statements = [`CREATE SCHEMA ${schema}`];
  for (const table of tables) {
    const columns = table.columns.map(([name, type]) => `${name} ${type} NOT NULL`).join(', ');
    const ddl = `CREATE TABLE ${schema}.${table.name} (${columns}, PRIMARY KEY (${PRIMARY_KEYS[table.name]!.join(', ')}))`;
    statements.push(engine.dialect === 'mysql' ? toMySqlDdl(ddl) : ddl);
    for (let i = 0; i < table.rows.length; i += 1000) {
      const values = table.rows
        .slice(i, i + 1000)
        .map((row) => `(${row.map(literal).join(', ')})`)
        .join(',\n');
      statements.push(`INSERT INTO ${schema}.${table.name} VALUES\n${values}`);
    }
  }
  return statements;
}

/** Creates `schema` and loads the data set into it (DuckDB, PostgreSQL or MySQL/MariaDB). */
export async function loadTpch(engine: Engine, schema: string): Promise<void> {
  for (const statement of loadStatements(engine, schema)) await engine.execute(statement);
}
