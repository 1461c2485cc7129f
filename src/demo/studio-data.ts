/**
 * Deterministic demo data for the Studio warehouse that `definitions/` describes.
 *
 * Pure: no I/O, no clock, no Math.random. Every table draws from its own seeded
 * stream, so the same seed gives byte-identical tables, and tuning one table
 * does not reshuffle the others.
 */

export type DemoColumnType =
  'VARCHAR' | 'BIGINT' | 'INTEGER' | 'DOUBLE' | 'DECIMAL(18,2)' | 'BOOLEAN' | 'DATE' | 'TIMESTAMP';

/** DATE as 'YYYY-MM-DD', TIMESTAMP as 'YYYY-MM-DD HH:MM:SS'. */
export type DemoValue = string | number | boolean | null;

export interface DemoTable {
  schema: string;
  name: string;
  columns: { name: string; type: DemoColumnType }[];
  rows: DemoValue[][];
}

export interface StudioDataOptions {
  /** Any integer; default {@link DEFAULT_SEED}. */
  seed?: number;
  /** Multiplies the number of movies, locations, vendors and talent; default 1. */
  scale?: number;
}

export const DEFAULT_SEED = 20261126;

/**
 * The demo's fixed "today". Statuses, NULL actual hours, paid dates and the end of
 * the CDC history are coherent as of this date, so `in_last` / `in_next` filters
 * run around it find rows on both sides.
 */
export const DEMO_TODAY = '2026-11-26';

const RANGE_START = '2024-01-01';
const RANGE_END = '2027-12-31';

/** Rows per table at scale 1 for the tables whose size is set directly. */
const BASE_COUNTS = { movies: 300, locations: 60, vendors: 120, talent: 500 } as const;

export function generateStudioData(options: StudioDataOptions = {}): DemoTable[] {
  const seed = options.seed ?? DEFAULT_SEED;
  const scale = options.scale ?? 1;
  if (!Number.isInteger(seed)) throw new Error(`seed must be an integer, got ${seed}`);
  if (!Number.isFinite(scale) || scale <= 0) throw new Error(`scale must be a positive number, got ${scale}`);
  const count = (base: number): number => Math.max(1, Math.round(base * scale));

  const locations = generateLocations(streamFor(seed, 'location'), count(BASE_COUNTS.locations));
  const vendors = generateVendors(streamFor(seed, 'vendor'), count(BASE_COUNTS.vendors));
  const movies = generateMovies(streamFor(seed, 'movie'), count(BASE_COUNTS.movies));
  const productions = generateProductions(streamFor(seed, 'production'), movies);
  const shootDays = generateShootDays(streamFor(seed, 'shoot_day'), productions, locations);
  const purchaseOrders = generatePurchaseOrders(streamFor(seed, 'purchase_order'), productions, vendors);
  const talentChanges = generateTalentChanges(streamFor(seed, 'talent'), count(BASE_COUNTS.talent));
  const credits = generateMovieTalent(
    streamFor(seed, 'movie_talent'),
    movies,
    talentByLiveness(talentChanges),
  );

  return [
    toTable('studio', 'movie', MOVIE_COLUMNS, movies),
    toTable('studio', 'production', PRODUCTION_COLUMNS, productions),
    toTable('studio', 'shoot_day', SHOOT_DAY_COLUMNS, shootDays),
    toTable('studio', 'location', LOCATION_COLUMNS, locations),
    toTable('studio', 'vendor', VENDOR_COLUMNS, vendors),
    toTable('studio', 'purchase_order', PURCHASE_ORDER_COLUMNS, purchaseOrders),
    toTable('studio', 'movie_talent', MOVIE_TALENT_COLUMNS, credits),
    toTable('studio_raw', 'talent_changes', TALENT_CHANGE_COLUMNS, talentChanges),
  ];
}

// ---------------------------------------------------------------------------
// Seeded randomness

/** mulberry32: tiny, fast, and gives the same sequence on every platform. */
class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform integer in [min, max], both inclusive. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.next() * items.length)];
    if (item === undefined) throw new Error('pick from an empty list');
    return item;
  }

  weighted<T>(choices: readonly (readonly [T, number])[]): T {
    const total = choices.reduce((sum, [, weight]) => sum + weight, 0);
    let roll = this.next() * total;
    for (const [value, weight] of choices) {
      roll -= weight;
      if (roll < 0) return value;
    }
    const last = choices[choices.length - 1];
    if (last === undefined) throw new Error('weighted pick from an empty list');
    return last[0];
  }

  /** `count` distinct items (fewer if the list is shorter), in draw order. */
  sample<T>(items: readonly T[], count: number): T[] {
    const pool = [...items];
    const taken: T[] = [];
    while (taken.length < count && pool.length > 0) {
      const index = Math.floor(this.next() * pool.length);
      const [item] = pool.splice(index, 1);
      if (item !== undefined) taken.push(item);
    }
    return taken;
  }

  /** Log-uniform: small amounts are common, large ones rare, like real spend. */
  logUniform(min: number, max: number): number {
    return min * Math.pow(max / min, this.next());
  }
}

/** An independent stream per table: FNV-1a of the name mixed into the seed. */
function streamFor(seed: number, name: string): Rng {
  let hash = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    hash ^= name.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return new Rng((hash ^ Math.imul(seed | 0, 0x9e3779b1)) >>> 0);
}

// ---------------------------------------------------------------------------
// Dates, times and money (days and seconds since 1970-01-01 UTC)

const SECONDS_PER_DAY = 86_400;

function dayOf(isoDate: string): number {
  const [year, month, day] = isoDate.split('-').map(Number);
  if (year === undefined || month === undefined || day === undefined) throw new Error(`bad date ${isoDate}`);
  return Date.UTC(year, month - 1, day) / (SECONDS_PER_DAY * 1000);
}

function isoDate(day: number): string {
  return new Date(day * SECONDS_PER_DAY * 1000).toISOString().slice(0, 10);
}

function isoTimestamp(seconds: number): string {
  return new Date(seconds * 1000).toISOString().slice(0, 19).replace('T', ' ');
}

const FIRST_DAY = dayOf(RANGE_START);
const LAST_DAY = dayOf(RANGE_END);
const TODAY = dayOf(DEMO_TODAY);

function clampDay(day: number): number {
  return Math.min(LAST_DAY, Math.max(FIRST_DAY, day));
}

/** Whole cents, so DECIMAL(18,2) values round-trip exactly. */
function money(amount: number): number {
  return Math.round(amount * 100) / 100;
}

function roundTo(amount: number, step: number): number {
  return Math.round(amount / step) * step;
}

function padId(prefix: string, n: number, width: number): string {
  return `${prefix}-${String(n).padStart(width, '0')}`;
}

/** Adds " 2", " 3", ... until the name is new, so generated names stay unique at any scale. */
function uniqueName(taken: Set<string>, name: string): string {
  let candidate = name;
  for (let n = 2; taken.has(candidate); n++) candidate = `${name} ${n}`;
  taken.add(candidate);
  return candidate;
}

// ---------------------------------------------------------------------------
// Tables

type Row = Record<string, DemoValue>;
type Columns<T> = readonly { name: keyof T & string; type: DemoColumnType }[];

function toTable<T extends Row>(
  schema: string,
  name: string,
  columns: Columns<T>,
  records: readonly T[],
): DemoTable {
  return {
    schema,
    name,
    columns: columns.map((column) => ({ name: column.name, type: column.type })),
    rows: records.map((record) => columns.map((column) => record[column.name] ?? null)),
  };
}

const COUNTRY_WEIGHTS: readonly (readonly [string, number])[] = [
  ['US', 35],
  ['GB', 12],
  ['CA', 12],
  ['ES', 8],
  ['KR', 6],
  ['MX', 5],
  ['IN', 5],
  ['DE', 4],
  ['FR', 4],
  ['AU', 4],
  ['JP', 3],
  ['BR', 2],
];

/** A country code, or NULL with the given probability (unknown in the source system). */
function countryOrNull(rng: Rng, nullProbability: number): string | null {
  return rng.chance(nullProbability) ? null : rng.weighted(COUNTRY_WEIGHTS);
}

// --- location ---------------------------------------------------------------

type LocationRow = {
  location_id: string;
  name: string;
  city: string;
  country: string;
  is_stage: boolean;
  latitude: number;
  longitude: number;
};

const LOCATION_COLUMNS: Columns<LocationRow> = [
  { name: 'location_id', type: 'VARCHAR' },
  { name: 'name', type: 'VARCHAR' },
  { name: 'city', type: 'VARCHAR' },
  { name: 'country', type: 'VARCHAR' },
  { name: 'is_stage', type: 'BOOLEAN' },
  { name: 'latitude', type: 'DOUBLE' },
  { name: 'longitude', type: 'DOUBLE' },
];

interface City {
  city: string;
  country: string;
  latitude: number;
  longitude: number;
  weight: number;
}

const CITIES: readonly City[] = [
  { city: 'Los Angeles', country: 'US', latitude: 34.0522, longitude: -118.2437, weight: 8 },
  { city: 'Atlanta', country: 'US', latitude: 33.749, longitude: -84.388, weight: 4 },
  { city: 'New York', country: 'US', latitude: 40.7128, longitude: -74.006, weight: 4 },
  { city: 'Albuquerque', country: 'US', latitude: 35.0844, longitude: -106.6504, weight: 2 },
  { city: 'Vancouver', country: 'CA', latitude: 49.2827, longitude: -123.1207, weight: 4 },
  { city: 'Toronto', country: 'CA', latitude: 43.6532, longitude: -79.3832, weight: 3 },
  { city: 'London', country: 'GB', latitude: 51.5072, longitude: -0.1276, weight: 5 },
  { city: 'Madrid', country: 'ES', latitude: 40.4168, longitude: -3.7038, weight: 3 },
  { city: 'Barcelona', country: 'ES', latitude: 41.3874, longitude: 2.1686, weight: 2 },
  { city: 'Seoul', country: 'KR', latitude: 37.5665, longitude: 126.978, weight: 3 },
  { city: 'Mexico City', country: 'MX', latitude: 19.4326, longitude: -99.1332, weight: 2 },
  { city: 'Mumbai', country: 'IN', latitude: 19.076, longitude: 72.8777, weight: 2 },
  { city: 'Berlin', country: 'DE', latitude: 52.52, longitude: 13.405, weight: 2 },
  { city: 'Paris', country: 'FR', latitude: 48.8566, longitude: 2.3522, weight: 2 },
  { city: 'Sydney', country: 'AU', latitude: -33.8688, longitude: 151.2093, weight: 2 },
  { city: 'Tokyo', country: 'JP', latitude: 35.6762, longitude: 139.6503, weight: 2 },
  { city: 'Sao Paulo', country: 'BR', latitude: -23.5558, longitude: -46.6396, weight: 1 },
];

// prettier-ignore
const PLACE_NAMES = [
  'Old Mill', 'Harbor Pier', 'Union Station', 'Pine Ridge Ranch', 'Riverside Warehouse', 'City Hall Steps',
  'Grand Hotel', 'Quarry Road', 'Lakeside Cabin', 'Market Square', 'Airfield Hangar', 'Cathedral Close',
] as const;

function generateLocations(rng: Rng, count: number): LocationRow[] {
  const taken = new Set<string>();
  const stagesPerCity = new Map<string, number>();
  const rows: LocationRow[] = [];
  for (let i = 1; i <= count; i++) {
    const city = rng.weighted(CITIES.map((c) => [c, c.weight] as const));
    const isStage = rng.chance(0.4);
    let name: string;
    if (isStage) {
      const stageNumber = (stagesPerCity.get(city.city) ?? 0) + 1;
      stagesPerCity.set(city.city, stageNumber);
      name = uniqueName(taken, `${city.city} Stage ${stageNumber}`);
    } else {
      name = uniqueName(taken, `${rng.pick(PLACE_NAMES)}, ${city.city}`);
    }
    rows.push({
      location_id: padId('LOC', i, 3),
      name,
      city: city.city,
      country: city.country,
      is_stage: isStage,
      // Jitter around the city centre; 4 decimals is ~10 m, plenty for a demo.
      latitude: Number((city.latitude + (rng.next() - 0.5) * 0.3).toFixed(4)),
      longitude: Number((city.longitude + (rng.next() - 0.5) * 0.3).toFixed(4)),
    });
  }
  return rows;
}

// --- vendor -----------------------------------------------------------------

type VendorRow = {
  vendor_id: string;
  name: string;
  category: VendorCategory;
  country: string | null;
  is_preferred: boolean;
};

const VENDOR_COLUMNS: Columns<VendorRow> = [
  { name: 'vendor_id', type: 'VARCHAR' },
  { name: 'name', type: 'VARCHAR' },
  { name: 'category', type: 'VARCHAR' },
  { name: 'country', type: 'VARCHAR' },
  { name: 'is_preferred', type: 'BOOLEAN' },
];

type VendorCategory =
  | 'catering'
  | 'equipment'
  | 'transport'
  | 'security'
  | 'wardrobe'
  | 'visual_effects'
  | 'lodging'
  | 'post_production';

interface CategoryProfile {
  weight: number;
  suffixes: readonly string[];
  /** Typical purchase-order amount range in USD. */
  minAmount: number;
  maxAmount: number;
}

const VENDOR_CATEGORIES: Readonly<Record<VendorCategory, CategoryProfile>> = {
  catering: { weight: 18, suffixes: ['Catering', 'Kitchens'], minAmount: 500, maxAmount: 25_000 },
  equipment: {
    weight: 20,
    suffixes: ['Grip & Electric', 'Camera Rentals'],
    minAmount: 2_000,
    maxAmount: 150_000,
  },
  transport: { weight: 15, suffixes: ['Transport', 'Logistics'], minAmount: 500, maxAmount: 40_000 },
  security: { weight: 8, suffixes: ['Security'], minAmount: 1_000, maxAmount: 30_000 },
  wardrobe: { weight: 10, suffixes: ['Costume House', 'Wardrobe'], minAmount: 1_000, maxAmount: 60_000 },
  visual_effects: { weight: 8, suffixes: ['VFX', 'Digital'], minAmount: 20_000, maxAmount: 900_000 },
  lodging: { weight: 12, suffixes: ['Hotels', 'Suites'], minAmount: 2_000, maxAmount: 80_000 },
  post_production: { weight: 9, suffixes: ['Post', 'Sound'], minAmount: 5_000, maxAmount: 300_000 },
};

const CATEGORY_WEIGHTS = (Object.keys(VENDOR_CATEGORIES) as VendorCategory[]).map(
  (category) => [category, VENDOR_CATEGORIES[category].weight] as const,
);

// prettier-ignore
const VENDOR_PREFIXES = [
  'Lumen', 'Northside', 'Blue Ridge', 'Keystone', 'Atlas', 'Harbor', 'Summit', 'Redwood', 'Granite',
  'Beacon', 'Silverline', 'Copperfield', 'Meridian', 'Pioneer', 'Cascade',
] as const;

function generateVendors(rng: Rng, count: number): VendorRow[] {
  const taken = new Set<string>();
  const rows: VendorRow[] = [];
  for (let i = 1; i <= count; i++) {
    const category = rng.weighted(CATEGORY_WEIGHTS);
    const suffix = rng.pick(VENDOR_CATEGORIES[category].suffixes);
    rows.push({
      vendor_id: padId('VND', i, 3),
      name: uniqueName(taken, `${rng.pick(VENDOR_PREFIXES)} ${suffix}`),
      category,
      country: countryOrNull(rng, 0.05),
      is_preferred: rng.chance(0.3),
    });
  }
  return rows;
}

// --- movie ------------------------------------------------------------------

type MovieStatus = 'development' | 'active' | 'in_production' | 'released' | 'cancelled';

type MovieRow = {
  movie_id: string;
  title: string;
  genre: string;
  status: MovieStatus;
  launch_date: string | null;
  budget_usd: number | null;
  runtime_seconds: number | null;
  is_test: boolean;
};

const MOVIE_COLUMNS: Columns<MovieRow> = [
  { name: 'movie_id', type: 'VARCHAR' },
  { name: 'title', type: 'VARCHAR' },
  { name: 'genre', type: 'VARCHAR' },
  { name: 'status', type: 'VARCHAR' },
  { name: 'launch_date', type: 'DATE' },
  { name: 'budget_usd', type: 'DECIMAL(18,2)' },
  { name: 'runtime_seconds', type: 'BIGINT' },
  { name: 'is_test', type: 'BOOLEAN' },
];

const MOVIE_STATUS_WEIGHTS: readonly (readonly [MovieStatus, number])[] = [
  ['development', 20],
  ['active', 25],
  ['in_production', 25],
  ['released', 25],
  ['cancelled', 5],
];

// prettier-ignore
const GENRES = [
  'Drama', 'Comedy', 'Thriller', 'Action', 'Documentary', 'Animation', 'Horror', 'Science Fiction',
  'Romance',
] as const;

// prettier-ignore
const TITLE_ADJECTIVES = [
  'Silent', 'Crimson', 'Hollow', 'Golden', 'Broken', 'Midnight', 'Distant', 'Quiet', 'Burning', 'Frozen',
  'Hidden', 'Wild', 'Electric', 'Northern', 'Paper', 'Velvet', 'Iron', 'Lonely', 'Secret', 'Endless',
] as const;

// prettier-ignore
const TITLE_NOUNS = [
  'Harbor', 'Orchard', 'Signal', 'Kingdom', 'River', 'Night', 'Garden', 'Empire', 'Mirror', 'Frontier',
  'Lantern', 'Tide', 'Summer', 'Winter', 'Station', 'Horizon', 'Archive', 'Circus', 'Canyon', 'Letter',
  'Storm', 'Island', 'Machine', 'Promise', 'Echo',
] as const;

const TITLE_PLACES = [
  'Avalon',
  'Marrow Creek',
  'the North',
  'Saltwater',
  'Glass City',
  'Paradise',
  'the Valley',
];

function movieTitle(rng: Rng): string {
  const adjective = rng.pick(TITLE_ADJECTIVES);
  const noun = rng.pick(TITLE_NOUNS);
  switch (rng.int(0, 4)) {
    case 0:
    case 1:
      return `The ${adjective} ${noun}`;
    case 2:
      return `${adjective} ${noun}`;
    case 3:
      return `${noun} of ${rng.pick(TITLE_PLACES)}`;
    default:
      return `The Last ${noun}`;
  }
}

/** Released movies launched in the past; upcoming ones launch after the demo's today. */
function launchDay(rng: Rng, status: MovieStatus): number | null {
  switch (status) {
    case 'released':
      return rng.int(FIRST_DAY + 200, TODAY - 1);
    case 'active':
      return rng.int(TODAY - 30, LAST_DAY);
    case 'in_production':
      return rng.int(TODAY + 30, LAST_DAY);
    case 'development':
      return rng.chance(0.5) ? null : rng.int(dayOf('2027-06-01'), LAST_DAY);
    case 'cancelled':
      return rng.chance(0.5) ? null : rng.int(FIRST_DAY, LAST_DAY);
  }
}

function generateMovies(rng: Rng, count: number): MovieRow[] {
  const taken = new Set<string>();
  const rows: MovieRow[] = [];
  for (let i = 1; i <= count; i++) {
    // A few QA fixtures live in the same table; the `movie` source filters them out.
    const isTest = rng.chance(0.02);
    const status = rng.weighted(MOVIE_STATUS_WEIGHTS);
    const launch = launchDay(rng, status);
    const hasCut = status === 'released' || (status === 'in_production' && rng.chance(0.5));
    rows.push({
      movie_id: padId('MOV', i, 4),
      title: uniqueName(taken, isTest ? `Test Fixture ${i}` : movieTitle(rng)),
      genre: rng.pick(GENRES),
      status,
      launch_date: launch === null ? null : isoDate(launch),
      budget_usd:
        status === 'development' && rng.chance(0.4) ? null : roundTo(rng.logUniform(2e6, 250e6), 1000),
      runtime_seconds: hasCut ? rng.int(80 * 60, 170 * 60) : null,
      is_test: isTest,
    });
  }
  return rows;
}

// --- production -------------------------------------------------------------

type ProductionStatus = 'planned' | 'shooting' | 'wrapped' | 'cancelled';

type ProductionRow = {
  production_id: string;
  movie_id: string;
  name: string;
  country: string | null;
  start_date: string;
  end_date: string | null;
  status: ProductionStatus;
  budget_usd: number | null;
};

const PRODUCTION_COLUMNS: Columns<ProductionRow> = [
  { name: 'production_id', type: 'VARCHAR' },
  { name: 'movie_id', type: 'VARCHAR' },
  { name: 'name', type: 'VARCHAR' },
  { name: 'country', type: 'VARCHAR' },
  { name: 'start_date', type: 'DATE' },
  { name: 'end_date', type: 'DATE' },
  { name: 'status', type: 'VARCHAR' },
  { name: 'budget_usd', type: 'DECIMAL(18,2)' },
];

// prettier-ignore
const UNIT_NAMES = [
  'Main Unit', 'Second Unit', 'Splinter Unit', 'Reshoots', 'Pickups', 'Aerial Unit',
] as const;

function productionCount(rng: Rng, movie: MovieRow): number {
  // Test fixtures and most early projects have no production at all.
  if (movie.is_test) return 0;
  switch (movie.status) {
    case 'development':
      return rng.chance(0.7) ? 0 : 1;
    case 'cancelled':
      return rng.int(0, 1);
    case 'active':
      return rng.int(1, 5);
    case 'in_production':
      return rng.int(2, 5);
    case 'released':
      return rng.int(1, 4);
  }
}

function productionStatus(movie: MovieRow, start: number, end: number | null): ProductionStatus {
  if (movie.status === 'cancelled') return 'cancelled';
  if (start > TODAY) return 'planned';
  if (end === null || end >= TODAY) return 'shooting';
  return 'wrapped';
}

/** Shooting happens 5 to 23 months before launch; undated projects shoot around now. */
function productionStart(rng: Rng, launch: number | null): number {
  if (launch === null) return rng.int(TODAY - 180, LAST_DAY - 60);
  const earliest = Math.max(FIRST_DAY, launch - 700);
  const latest = launch - 150;
  return earliest <= latest ? rng.int(earliest, latest) : FIRST_DAY + rng.int(0, 30);
}

function generateProductions(rng: Rng, movies: readonly MovieRow[]): ProductionRow[] {
  const rows: ProductionRow[] = [];
  for (const movie of movies) {
    const units = productionCount(rng, movie);
    const launch = movie.launch_date === null ? null : dayOf(movie.launch_date);
    for (let unit = 0; unit < units; unit++) {
      const start = productionStart(rng, launch);
      const end = rng.chance(0.08) ? null : clampDay(start + rng.int(15, 120));
      const budget = movie.budget_usd ?? rng.logUniform(5e6, 40e6);
      rows.push({
        production_id: padId('PRD', rows.length + 1, 4),
        movie_id: movie.movie_id,
        name: `${movie.title} - ${UNIT_NAMES[unit % UNIT_NAMES.length] ?? 'Unit'}`,
        country: countryOrNull(rng, 0.05),
        start_date: isoDate(start),
        end_date: end === null ? null : isoDate(end),
        status: productionStatus(movie, start, end),
        budget_usd: rng.chance(0.05)
          ? null
          : roundTo(budget * (unit === 0 ? 0.5 : 0.1) * (0.5 + rng.next()), 1000),
      });
    }
  }
  return rows;
}

// --- shoot_day --------------------------------------------------------------

type ShootDayRow = {
  shoot_day_id: string;
  production_id: string;
  location_id: string;
  shoot_date: string;
  scheduled_hours: number;
  actual_hours: number | null;
  started_at: string;
  is_overtime: boolean;
};

const SHOOT_DAY_COLUMNS: Columns<ShootDayRow> = [
  { name: 'shoot_day_id', type: 'VARCHAR' },
  { name: 'production_id', type: 'VARCHAR' },
  { name: 'location_id', type: 'VARCHAR' },
  { name: 'shoot_date', type: 'DATE' },
  { name: 'scheduled_hours', type: 'DECIMAL(18,2)' },
  { name: 'actual_hours', type: 'DECIMAL(18,2)' },
  { name: 'started_at', type: 'TIMESTAMP' },
  { name: 'is_overtime', type: 'BOOLEAN' },
];

/** Each production shoots at a few locations, preferably in its own country. */
function homeLocations(
  rng: Rng,
  production: ProductionRow,
  locations: readonly LocationRow[],
): LocationRow[] {
  const local = locations.filter((location) => location.country === production.country);
  const pool = local.length >= 2 ? local : locations;
  return rng.sample(pool, rng.int(2, 4));
}

function shootDates(rng: Rng, production: ProductionRow): number[] {
  const start = dayOf(production.start_date);
  const end = production.end_date === null ? Math.min(LAST_DAY, start + 45) : dayOf(production.end_date);
  const span = Array.from({ length: end - start + 1 }, (_, offset) => start + offset);
  return rng.sample(span, rng.int(5, 24)).sort((a, b) => a - b);
}

/** Hours are logged after the day is shot: future days, and a few forgotten ones, have none. */
function actualHours(rng: Rng, day: number, scheduled: number): number | null {
  if (day > TODAY || rng.chance(0.03)) return null;
  return Math.max(2, scheduled + rng.int(-8, 12) * 0.25);
}

function generateShootDays(
  rng: Rng,
  productions: readonly ProductionRow[],
  locations: readonly LocationRow[],
): ShootDayRow[] {
  const rows: ShootDayRow[] = [];
  for (const production of productions) {
    if (production.status === 'cancelled' || rng.chance(0.12)) continue;
    const sites = homeLocations(rng, production, locations);
    for (const day of shootDates(rng, production)) {
      const scheduled = rng.int(16, 28) * 0.5;
      const actual = actualHours(rng, day, scheduled);
      rows.push({
        shoot_day_id: padId('SD', rows.length + 1, 6),
        production_id: production.production_id,
        location_id: rng.pick(sites).location_id,
        shoot_date: isoDate(day),
        scheduled_hours: scheduled,
        actual_hours: actual,
        started_at: isoTimestamp(day * SECONDS_PER_DAY + rng.int(5 * 60, 10 * 60) * 60),
        is_overtime: actual !== null && actual > scheduled,
      });
    }
  }
  return rows;
}

// --- purchase_order ---------------------------------------------------------

type PurchaseOrderStatus = 'open' | 'approved' | 'paid' | 'void';

type PurchaseOrderRow = {
  po_id: string;
  production_id: string;
  vendor_id: string;
  amount_usd: number;
  currency: string;
  status: PurchaseOrderStatus;
  issued_at: string;
  paid_date: string | null;
};

const PURCHASE_ORDER_COLUMNS: Columns<PurchaseOrderRow> = [
  { name: 'po_id', type: 'VARCHAR' },
  { name: 'production_id', type: 'VARCHAR' },
  { name: 'vendor_id', type: 'VARCHAR' },
  { name: 'amount_usd', type: 'DECIMAL(18,2)' },
  { name: 'currency', type: 'VARCHAR' },
  { name: 'status', type: 'VARCHAR' },
  { name: 'issued_at', type: 'TIMESTAMP' },
  { name: 'paid_date', type: 'DATE' },
];

const CURRENCY_BY_COUNTRY: Readonly<Record<string, string>> = {
  GB: 'GBP',
  CA: 'CAD',
  ES: 'EUR',
  DE: 'EUR',
  FR: 'EUR',
  KR: 'KRW',
  MX: 'MXN',
  IN: 'INR',
  AU: 'AUD',
  JP: 'JPY',
  BR: 'BRL',
};

const PO_STATUS_WEIGHTS: readonly (readonly [PurchaseOrderStatus, number])[] = [
  ['open', 15],
  ['approved', 25],
  ['paid', 50],
  ['void', 10],
];

/** Orders are issued from prep (45 days before the start) to shortly after wrap, at the latest yesterday. */
function issueWindow(production: ProductionRow): [number, number] | null {
  const start = dayOf(production.start_date);
  const end = production.end_date === null ? start + 90 : dayOf(production.end_date);
  const first = Math.max(FIRST_DAY, start - 45);
  const last = Math.min(TODAY - 1, end + 30);
  return first <= last ? [first, last] : null;
}

/** A paid order has a paid date; one that would be paid after today is still only approved. */
function paymentOf(rng: Rng, issuedDay: number): { status: PurchaseOrderStatus; paid_date: string | null } {
  const status = rng.weighted(PO_STATUS_WEIGHTS);
  if (status !== 'paid') return { status, paid_date: null };
  const paidDay = issuedDay + rng.int(7, 75);
  return paidDay > TODAY ? { status: 'approved', paid_date: null } : { status, paid_date: isoDate(paidDay) };
}

function generatePurchaseOrders(
  rng: Rng,
  productions: readonly ProductionRow[],
  vendors: readonly VendorRow[],
): PurchaseOrderRow[] {
  const rows: PurchaseOrderRow[] = [];
  for (const production of productions) {
    const window = issueWindow(production);
    if (window === null || rng.chance(0.1)) continue;
    const orders = rng.int(2, 16);
    for (let i = 0; i < orders; i++) {
      const vendor = rng.pick(vendors);
      const profile = VENDOR_CATEGORIES[vendor.category];
      const issuedDay = rng.int(window[0], window[1]);
      const issuedSecond = issuedDay * SECONDS_PER_DAY + rng.int(8 * 3600, 19 * 3600 - 1);
      rows.push({
        po_id: padId('PO', rows.length + 1, 6),
        production_id: production.production_id,
        vendor_id: vendor.vendor_id,
        amount_usd: money(rng.logUniform(profile.minAmount, profile.maxAmount)),
        currency: CURRENCY_BY_COUNTRY[production.country ?? ''] ?? 'USD',
        issued_at: isoTimestamp(issuedSecond),
        ...paymentOf(rng, issuedDay),
      });
    }
  }
  return rows;
}

// --- talent (raw CDC change log) --------------------------------------------

type ChangeOp = 'c' | 'u' | 'd' | 'r';

type TalentState = {
  talent_id: string;
  full_name: string;
  agency: string | null;
  country: string | null;
  day_rate_usd: number;
  is_active: boolean;
};

type TalentChangeRow = TalentState & { _op: ChangeOp; _op_ts: string; _seq: number };

const TALENT_CHANGE_COLUMNS: Columns<TalentChangeRow> = [
  { name: 'talent_id', type: 'VARCHAR' },
  { name: 'full_name', type: 'VARCHAR' },
  { name: 'agency', type: 'VARCHAR' },
  { name: 'country', type: 'VARCHAR' },
  { name: 'day_rate_usd', type: 'DECIMAL(18,2)' },
  { name: 'is_active', type: 'BOOLEAN' },
  { name: '_op', type: 'VARCHAR' },
  { name: '_op_ts', type: 'TIMESTAMP' },
  { name: '_seq', type: 'BIGINT' },
];

// prettier-ignore
const FIRST_NAMES = [
  'Ava', 'Ben', 'Chloe', 'Diego', 'Elena', 'Farid', 'Grace', 'Hiro', 'Isla', 'Jonas',
  'Kira', 'Luca', 'Maya', 'Noah', 'Olga', 'Priya', 'Quinn', 'Rosa', 'Sam', 'Tara',
  'Umar', 'Vera', 'Wes', 'Xin', 'Yara', 'Zane', 'Amara', 'Bruno', 'Carmen', 'Dev',
] as const;

// prettier-ignore
const LAST_NAMES = [
  'Abbott', 'Baker', 'Castillo', 'Dubois', 'Eriksen', 'Fischer', 'Garcia', 'Hughes', 'Ito', 'Jensen',
  'Kim', 'Lopez', 'Moreau', 'Novak', 'Okafor', 'Patel', 'Quint', 'Rossi', 'Silva', 'Tanaka',
  'Ueda', 'Varga', 'Walsh', 'Xu', 'Young', 'Zimmer', 'Ahmed', 'Byrne', 'Costa', 'Dang',
] as const;

// prettier-ignore
const AGENCIES = [
  'Apex Talent', 'Bright Line Artists', 'Crescent Management', 'North Star Agency', 'Orbit Creative',
  'Silver Gate Partners', 'Tidewater Talent', 'Vista Artists',
] as const;

/** The initial snapshot: every pre-existing key is read ('r') at the same instant. */
const SNAPSHOT_SECOND = dayOf(RANGE_START) * SECONDS_PER_DAY;
/** The log ends before the demo's today, like a pipeline that has caught up. */
const LOG_END_SECOND = TODAY * SECONDS_PER_DAY;

interface KeyChange {
  state: TalentState;
  op: ChangeOp;
  second: number;
}

interface PendingChange extends KeyChange {
  /** Generation order; breaks ties on `second` so a key's own changes keep their order. */
  order: number;
}

function newTalent(rng: Rng, talentId: string): TalentState {
  return {
    talent_id: talentId,
    full_name: `${rng.pick(FIRST_NAMES)} ${rng.pick(LAST_NAMES)}`,
    agency: rng.chance(0.15) ? null : rng.pick(AGENCIES),
    country: countryOrNull(rng, 0.04),
    day_rate_usd: money(roundTo(rng.logUniform(500, 50_000), 50)),
    is_active: rng.chance(0.9),
  };
}

/** One realistic edit: a new rate, a new agency, going (in)active, or a name change. */
function updatedTalent(rng: Rng, state: TalentState): TalentState {
  switch (
    rng.weighted([
      ['rate', 5],
      ['agency', 2],
      ['active', 2],
      ['name', 1],
    ] as const)
  ) {
    case 'rate':
      return { ...state, day_rate_usd: money(roundTo(state.day_rate_usd * (0.9 + rng.next() * 0.4), 50)) };
    case 'agency':
      return {
        ...state,
        agency: rng.chance(0.1) ? null : rng.pick(AGENCIES.filter((a) => a !== state.agency)),
      };
    case 'active':
      return { ...state, is_active: !state.is_active };
    case 'name':
      return { ...state, full_name: `${state.full_name.split(' ')[0] ?? ''} ${rng.pick(LAST_NAMES)}` };
  }
}

/**
 * The change history of one key: a snapshot read or create, a run of updates (some
 * in the same instant as the previous change, so only `_seq` orders them), and for
 * a few keys a delete, sometimes followed by a re-create and more updates.
 */
function keyHistory(rng: Rng, talentId: string): KeyChange[] {
  const history: KeyChange[] = [];
  let state = newTalent(rng, talentId);
  let second = rng.chance(0.4)
    ? SNAPSHOT_SECOND
    : rng.int(SNAPSHOT_SECOND + 3600, dayOf('2025-12-31') * SECONDS_PER_DAY);
  history.push({ state, op: second === SNAPSHOT_SECOND ? 'r' : 'c', second });

  const appendUpdates = (count: number): void => {
    for (let i = 0; i < count; i++) {
      const next = rng.chance(0.1) ? second : second + rng.int(3600, 90 * SECONDS_PER_DAY);
      if (next >= LOG_END_SECOND) return;
      second = next;
      state = updatedTalent(rng, state);
      history.push({ state, op: 'u', second });
    }
  };
  appendUpdates(rng.int(1, 9));

  if (rng.chance(0.07)) {
    const deletedAt = second + rng.int(SECONDS_PER_DAY, 60 * SECONDS_PER_DAY);
    if (deletedAt < LOG_END_SECOND) {
      second = deletedAt;
      // Like Debezium's before-image: the delete row carries the last values.
      history.push({ state, op: 'd', second });
      const recreatedAt = second + rng.int(SECONDS_PER_DAY, 120 * SECONDS_PER_DAY);
      if (rng.chance(0.5) && recreatedAt < LOG_END_SECOND) {
        second = recreatedAt;
        state = newTalent(rng, talentId);
        history.push({ state, op: 'c', second });
        appendUpdates(rng.int(0, 2));
      }
    }
  }
  return history;
}

function generateTalentChanges(rng: Rng, keyCount: number): TalentChangeRow[] {
  const pending: PendingChange[] = [];
  for (let i = 1; i <= keyCount; i++) {
    for (const change of keyHistory(rng, padId('TAL', i, 4))) {
      pending.push({ ...change, order: pending.length });
    }
  }
  // Log order: by time, then generation order; `_seq` numbers that order, so it is
  // strictly increasing and agrees with `_op_ts` wherever the timestamps differ.
  pending.sort((a, b) => a.second - b.second || a.order - b.order);
  return pending.map((change, index) => ({
    ...change.state,
    _op: change.op,
    _op_ts: isoTimestamp(change.second),
    _seq: index + 1,
  }));
}

interface TalentPools {
  /** Keys whose latest change is not a delete: what the `talent` source shows. */
  live: string[];
  /** Keys deleted upstream and not re-created. */
  deleted: string[];
}

/** The log is in `_seq` order, which agrees with `_op_ts`, so the last row per key is its latest. */
function talentByLiveness(changes: readonly TalentChangeRow[]): TalentPools {
  const latestOp = new Map<string, ChangeOp>();
  for (const change of changes) latestOp.set(change.talent_id, change._op);
  const ids = [...latestOp.keys()].sort();
  return {
    live: ids.filter((id) => latestOp.get(id) !== 'd'),
    deleted: ids.filter((id) => latestOp.get(id) === 'd'),
  };
}

// --- movie_talent -----------------------------------------------------------

type TalentRole = 'actor' | 'director' | 'writer' | 'producer';

type MovieTalentRow = {
  movie_id: string;
  talent_id: string;
  role: TalentRole;
  billing_order: number | null;
};

const MOVIE_TALENT_COLUMNS: Columns<MovieTalentRow> = [
  { name: 'movie_id', type: 'VARCHAR' },
  { name: 'talent_id', type: 'VARCHAR' },
  { name: 'role', type: 'VARCHAR' },
  { name: 'billing_order', type: 'INTEGER' },
];

function creditRoles(rng: Rng, movie: MovieRow): TalentRole[] {
  const roles: TalentRole[] = [];
  if (rng.chance(0.9)) roles.push('director');
  const writers = rng.weighted([
    [0, 2],
    [1, 6],
    [2, 2],
  ] as const);
  for (let i = 0; i < writers; i++) roles.push('writer');
  if (rng.chance(0.5)) roles.push('producer');
  const actors = movie.status === 'development' ? rng.int(0, 2) : rng.int(1, 5);
  for (let i = 0; i < actors; i++) roles.push('actor');
  return roles;
}

/**
 * Skewed towards the first ids: a few people work on many movies, most on one or two.
 * About 1% of credits point at a person deleted upstream, as real bridges do, so
 * joins to the CDC source meet keys that have no current row.
 */
function pickTalent(rng: Rng, pools: TalentPools): string {
  const pool =
    pools.deleted.length > 0 && (pools.live.length === 0 || rng.chance(0.01)) ? pools.deleted : pools.live;
  const index = Math.floor(pool.length * Math.pow(rng.next(), 1.7));
  return pool[index] ?? rng.pick(pool);
}

function generateMovieTalent(rng: Rng, movies: readonly MovieRow[], pools: TalentPools): MovieTalentRow[] {
  const rows: MovieTalentRow[] = [];
  const available = pools.live.length + pools.deleted.length;
  for (const movie of movies) {
    if (movie.is_test) continue;
    const cast = new Set<string>();
    let billing = 0;
    for (const role of creditRoles(rng, movie)) {
      // One credit per person per movie keeps (movie_id, talent_id) a key; stop
      // before the retry loop below could run out of people to draw.
      if (cast.size >= available) break;
      let talentId = pickTalent(rng, pools);
      while (cast.has(talentId)) talentId = pickTalent(rng, pools);
      cast.add(talentId);
      rows.push({
        movie_id: movie.movie_id,
        talent_id: talentId,
        role,
        billing_order: role === 'actor' ? ++billing : null,
      });
    }
  }
  return rows;
}
