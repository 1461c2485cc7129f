/**
 * docs/reference/*.md: a key-by-key reference of every definition kind, rendered from the same
 * JSON Schemas as schemas/*.json (so from the zod schemas, the one source of truth). Pure: the
 * CLI and scripts/generate-schemas.ts write the files; test/schemas/committed.test.ts fails
 * when the committed pages drift.
 *
 * One section per object of the document tree, by its path (`fields[]`, `access.rowFilters[]`,
 * `alerts.channels.*`), one per variant of a discriminated union (`destinations[]` with
 * `type: file`), and one per recursive definition (`Filter`), linked from where it is used.
 * Tables come out aligned as prettier prints them, so that `prettier --check` passes as is.
 */
import { z } from 'zod';
import { DIALECTS, DURATION_PATTERN, NAME_PATTERN, TRACKER_NAME_PATTERN } from './schema.js';
import { jsonSchemaOf, SCHEMA_GLOBS, SCHEMA_KINDS, schemaFileName, type SchemaKind } from './json-schema.js';

type Node = z.core.JSONSchema.JSONSchema;
type AnyNode = z.core.JSONSchema._JSONSchema;

/** The folder the pages are written to, relative to the repository. */
export const REFERENCE_DIR = 'docs/reference';

export const referenceFileName = (kind: SchemaKind): string => `${kind}.md`;

const PAGE_TITLES: Record<SchemaKind, string> = {
  source: 'Sources',
  input: 'Inputs',
  tracker: 'Trackers',
  pipeline: 'CDC pipelines',
  config: 'strata.yaml',
};

/** The prose that explains each kind (docs/*.md), linked from its reference page. */
const PROSE: Record<SchemaKind, { file: string; title: string }> = {
  source: { file: 'definitions.md', title: 'Definition formats' },
  input: { file: 'definitions.md', title: 'Definition formats' },
  tracker: { file: 'trackers.md', title: 'Trackers' },
  pipeline: { file: 'pipelines.md', title: 'CDC pipelines' },
  config: { file: 'configuration.md', title: 'Configuration' },
};

/**
 * Strings with a known shape get a short name in the type column, explained once at the top of
 * the page. A pattern not listed here still renders, as `string matching ...`.
 */
const STRING_SHAPES: readonly { pattern: string; label: string; meaning: string }[] = [
  { pattern: '', label: 'scalar', meaning: 'a string, a number or a boolean' },
  {
    pattern: NAME_PATTERN.source,
    label: 'name',
    meaning: 'lower case letters, digits and `_`, starting with a letter (`^[a-z][a-z0-9_]*$`)',
  },
  {
    pattern: TRACKER_NAME_PATTERN.source,
    label: 'dashed name',
    meaning: 'lower case letters, digits, `_` and `-`, starting with a letter (`^[a-z][a-z0-9_-]*$`)',
  },
  {
    pattern: '^[a-z][a-z0-9_]*\\.[a-z][a-z0-9_]*$',
    label: 'source.field',
    meaning: 'a field or measure of a source, as `source.field` (for example `movie.title`)',
  },
  {
    pattern: DURATION_PATTERN.source,
    label: 'duration',
    meaning: 'a whole number and a unit, `ms`, `s`, `m`, `h` or `d` (`500ms`, `30s`, `5m`, `1h`, `7d`)',
  },
  {
    pattern: '^env:[A-Za-z_][A-Za-z0-9_]*$',
    label: 'env:NAME',
    meaning: 'a credential, never written inline: `env:NAME` names the environment variable holding it',
  },
  {
    pattern: '^[A-Za-z_][A-Za-z0-9_$]*\\.[A-Za-z_][A-Za-z0-9_$]*$',
    label: 'schema.table',
    meaning: 'a table of the upstream database, as `schema.table` (for example `public.movie`)',
  },
  {
    pattern: '^[A-Za-z_][A-Za-z0-9_$]*(\\.[A-Za-z_][A-Za-z0-9_$]*){0,2}$',
    label: 'table name',
    meaning: '`table`, `schema.table` or `catalog.schema.table`',
  },
  {
    pattern: '^[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)?$',
    label: 'table or schema.table',
    meaning: '`table` or `schema.table`',
  },
  {
    pattern: '^[A-Za-z_][A-Za-z0-9_]*$',
    label: 'identifier',
    meaning: 'letters, digits and `_`, not starting with a digit',
  },
  {
    pattern: '^[^\\s.]+(\\.[^\\s.]+)*$',
    label: 'claim path',
    meaning: 'where a value sits in a token: `roles`, `realm_access.roles` or a namespaced claim',
  },
  {
    pattern: '^[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)*$',
    label: 'response path',
    meaning: "a path in a GraphQL response's `data`, such as `movie.genre`",
  },
];

/** `type: [string, number, boolean]`: a value written as is (filter values, params). */
const SCALAR = ['string', 'number', 'boolean'];

const STRING_FORMATS: Record<string, string> = { email: 'email address', uri: 'URL' };

interface Row {
  key: string;
  type: string;
  required: boolean;
  description: string;
}

interface Section {
  title: string;
  anchor: string;
  description: string | undefined;
  rows: Row[];
  children: Section[];
  /** A definition that is a union: its alternatives, linked, instead of a table. */
  oneOf?: string;
}

/** One page's state while it renders: anchors taken, definitions rendered, shapes used. */
class Page {
  readonly anchors = new Set<string>();
  readonly definitions = new Map<string, Section>();
  readonly definitionOrder: Section[] = [];
  readonly shapes = new Set<string>();
  constructor(readonly root: Node) {}

  section(title: string, description: string | undefined): Section {
    const base = githubSlug(title);
    let anchor = base;
    for (let n = 1; this.anchors.has(anchor); n++) anchor = `${base}-${n}`;
    this.anchors.add(anchor);
    return { title, anchor, description, rows: [], children: [] };
  }
}

/** The reference page of one kind: Markdown, formatted as prettier formats it. */
export function referencePage(kind: SchemaKind): string {
  const schema = jsonSchemaOf(kind);
  const page = new Page(schema);
  const top = page.section('Top level', undefined);
  fillObject(page, top, schema, '');
  const sections = [...flatten(top), ...page.definitionOrder.flatMap(flatten)];
  const prose = PROSE[kind];
  const lines: string[] = [
    `# ${PAGE_TITLES[kind]}: every key`,
    '',
    '<!-- Generated from src/core/definitions/schema.ts by `npm run schemas`: do not edit. -->',
    '',
    `Applies to ${SCHEMA_GLOBS[kind].map((glob) => `\`${glob}\``).join(', ')}. What the keys do and how they fit together:`,
    `[${prose.title}](../${prose.file}). The same shape as a JSON Schema, for editors:`,
    `[schemas/${schemaFileName(kind)}](../../schemas/${schemaFileName(kind)}).`,
    '',
    'An unknown key is an error. Rules that tie keys together (a source reads `table` or `sql`) and',
    'references to other definitions are checked too, and reported by `strata validate`.',
  ];
  const shapes = STRING_SHAPES.filter((shape) => page.shapes.has(shape.label));
  if (shapes.length > 0) {
    lines.push('', 'Types used below:', '');
    for (const shape of shapes) lines.push(`- ${code(shape.label)}: ${shape.meaning}.`);
  }
  lines.push('', '## Contents', '');
  for (const section of sections) lines.push(`- [${section.title}](#${section.anchor})`);
  for (const section of sections) {
    lines.push('', `## ${section.title}`, '');
    if (section.description !== undefined) lines.push(sentence(oneLine(section.description)), '');
    if (section.oneOf !== undefined) lines.push(`One of: ${section.oneOf}.`);
    else lines.push(...table(section.rows));
  }
  return `${lines.join('\n')}\n`;
}

/** docs/reference/README.md: the index of the pages. */
export function referenceIndex(): string {
  const lines = [
    '# Reference: every key of every definition file',
    '',
    '<!-- Generated from src/core/definitions/schema.ts by `npm run schemas`: do not edit. -->',
    '',
    'Generated from the zod schemas that validate the files (the same ones that give',
    '[schemas/\\*.json](../../schemas) to editors), so always true of this version. The prose that explains',
    'them: [definitions](../definitions.md), [trackers](../trackers.md), [pipelines](../pipelines.md),',
    '[configuration](../configuration.md).',
    '',
  ];
  lines.push(
    ...table(
      SCHEMA_KINDS.map((kind) => ({
        key: `[${PAGE_TITLES[kind]}](${referenceFileName(kind)})`,
        type: SCHEMA_GLOBS[kind].map(code).join(', '),
        required: false,
        description: '',
      })),
      ['Reference', 'Files'],
    ),
  );
  return `${lines.join('\n')}\n`;
}

/** Every page, keyed by its file name under docs/reference/, in a stable order. */
export function allReferencePages(): Record<string, string> {
  return {
    'README.md': referenceIndex(),
    ...Object.fromEntries(SCHEMA_KINDS.map((kind) => [referenceFileName(kind), referencePage(kind)])),
  };
}

function flatten(section: Section): Section[] {
  return [section, ...section.children.flatMap(flatten)];
}

/** The rows of an object's keys, in the schema's order; nested objects become child sections. */
function fillObject(page: Page, section: Section, node: Node, path: string): void {
  const required = new Set(node.required ?? []);
  for (const [key, property] of Object.entries(node.properties ?? {})) {
    const child = asNode(property);
    const childPath = path === '' ? key : `${path}.${key}`;
    section.rows.push({
      key: code(key),
      type: typeOf(page, section, child, childPath),
      required: required.has(key),
      description: describe(page, child),
    });
  }
}

/** The readable type of a node; objects it holds become sections under `parent`. */
function typeOf(page: Page, parent: Section, node: Node, path: string): string {
  if (node.$ref !== undefined) return definitionLink(page, node.$ref);
  const union = node.anyOf ?? node.oneOf;
  if (union !== undefined) return unionType(page, parent, union, path);
  if (node.const !== undefined) return code(String(node.const));
  if (node.enum !== undefined) return `one of ${node.enum.map((v) => code(String(v))).join(' | ')}`;
  const types = typeList(node);
  if (types.length > 1) {
    if (types.length === SCALAR.length && SCALAR.every((t) => types.includes(t))) {
      page.shapes.add('scalar');
      return code('scalar');
    }
    return joinOr(types.map((t) => code(t)));
  }
  switch (types[0]) {
    case 'string':
      return stringType(page, node);
    case 'integer':
    case 'number':
      return numberType(types[0], node);
    case 'boolean':
      return code('boolean');
    case 'array':
      return arrayType(page, parent, node, path);
    case 'object':
      return objectType(page, parent, node, path);
    default:
      return 'any';
  }
}

function typeList(node: Node): string[] {
  if (node.type === undefined) return node.properties !== undefined ? ['object'] : [];
  return Array.isArray(node.type) ? node.type : [node.type];
}

function stringType(page: Page, node: Node): string {
  // A format says more than the pattern zod writes beside it (an email's).
  if (node.format !== undefined && STRING_FORMATS[node.format] !== undefined)
    return `${code('string')}: ${STRING_FORMATS[node.format]}`;
  if (node.pattern !== undefined) {
    const shape = STRING_SHAPES.find((s) => s.pattern === node.pattern);
    if (shape === undefined) return `${code('string')} matching ${code(node.pattern)}`;
    page.shapes.add(shape.label);
    return code(shape.label);
  }
  if (node.minLength !== undefined && node.minLength > 1)
    return `${code('string')} of ${node.minLength}+ characters`;
  return code('string');
}

function numberType(type: 'integer' | 'number', node: Node): string {
  let low: string | undefined;
  if (typeof node.exclusiveMinimum === 'number')
    low = type === 'integer' ? `≥ ${node.exclusiveMinimum + 1}` : `> ${node.exclusiveMinimum}`;
  else if (node.minimum !== undefined && node.minimum > Number.MIN_SAFE_INTEGER) low = `≥ ${node.minimum}`;
  // zod bounds every integer by the safe range: no bound worth showing.
  const high =
    node.maximum !== undefined && node.maximum < Number.MAX_SAFE_INTEGER ? `≤ ${node.maximum}` : undefined;
  const bounds = [low, high].filter((b): b is string => b !== undefined);
  return bounds.length === 0 ? code(type) : `${code(type)} ${bounds.join(', ')}`;
}

function arrayType(page: Page, parent: Section, node: Node, path: string): string {
  const items = node.items;
  const item = items === undefined || Array.isArray(items) ? undefined : asNode(items);
  const of = item === undefined ? 'any' : typeOf(page, parent, item, `${path}[]`);
  const min = node.minItems ?? 0;
  const list = min === 0 ? 'list of' : min === 1 ? 'non-empty list of' : `list of at least ${min}`;
  const union =
    item !== undefined && (item.anyOf ?? item.oneOf) !== undefined && !of.startsWith('objects by');
  return `${list} ${union ? `(${of})` : of}`;
}

function objectType(page: Page, parent: Section, node: Node, path: string): string {
  if (node.properties !== undefined) {
    const section = page.section(code(path), node.description);
    parent.children.push(section);
    fillObject(page, section, node, path);
    return link(section);
  }
  const values = node.additionalProperties;
  if (values === undefined || typeof values === 'boolean') return code('object');
  const keys =
    node.propertyNames === undefined
      ? code('string')
      : typeOf(page, parent, asNode(node.propertyNames), path);
  return `map of ${keys} → ${typeOf(page, parent, asNode(values), `${path}.*`)}`;
}

/**
 * A union: SQL written once or per dialect; a discriminated union (one section per variant,
 * titled by its discriminator); or alternatives, each rendered, joined by "or".
 */
function unionType(page: Page, parent: Section, branches: Node[], path: string): string {
  const dialectSql = branches.length === 2 && branches.every((b) => isString(b) || isDialectMap(b));
  if (dialectSql)
    return `SQL: ${code('string')}, or one per dialect (${DIALECTS.map((d) => code(d)).join(', ')})`;
  const objects = branches.filter((b) => b.properties !== undefined);
  const discriminator = objects.length === branches.length ? discriminatorOf(objects) : undefined;
  const labelled = objects.length > 1;
  const types = branches.map((branch) => {
    if (branch.properties === undefined || !labelled) return typeOf(page, parent, branch, path);
    const value = discriminator !== undefined ? String(asNode(branch.properties[discriminator]!).const) : '';
    const suffix =
      discriminator !== undefined
        ? code(`${discriminator}: ${value}`)
        : (branch.required ?? []).map(code).join(', ');
    const section = page.section(`${code(path)} with ${suffix}`, branch.description);
    parent.children.push(section);
    fillObject(page, section, branch, path);
    return `[${discriminator !== undefined ? code(value) : suffix}](#${section.anchor})`;
  });
  return discriminator !== undefined ? `objects by ${code(discriminator)}: ${joinOr(types)}` : joinOr(types);
}

/** A recursive definition (`#/definitions/Filter`): its sections, rendered once, after the tree. */
function definitionLink(page: Page, ref: string): string {
  const name = ref.replace(/^#\/definitions\//, '');
  let section = page.definitions.get(name);
  if (section === undefined) {
    const node = definitionNode(page.root, name);
    section = page.section(code(name), node.description);
    page.definitions.set(name, section);
    page.definitionOrder.push(section);
    const branches = node.anyOf ?? node.oneOf;
    if (branches !== undefined) section.oneOf = unionType(page, section, branches, name);
    else fillObject(page, section, node, name);
  }
  return link(section);
}

function definitionNode(root: Node, name: string): Node {
  const definitions = root.definitions;
  if (typeof definitions !== 'object' || definitions === null || !(name in definitions))
    throw new Error(`the schema has no definition '${name}'`);
  return asNode((definitions as Record<string, AnyNode>)[name]!);
}

function discriminatorOf(objects: Node[]): string | undefined {
  const first = objects[0]!;
  return Object.keys(first.properties ?? {}).find((key) =>
    objects.every((o) => {
      const property = o.properties?.[key];
      return property !== undefined && typeof property !== 'boolean' && property.const !== undefined;
    }),
  );
}

function isString(node: Node): boolean {
  return node.type === 'string' && node.pattern === undefined;
}

function isDialectMap(node: Node): boolean {
  const keys = Object.keys(node.properties ?? {});
  return keys.length === DIALECTS.length && DIALECTS.every((d) => keys.includes(d));
}

/** The description cell: the node's description (or its definition's), default, examples. */
function describe(page: Page, node: Node): string {
  const parts: string[] = [];
  const description = node.description ?? refDescription(page, node);
  if (description !== undefined) parts.push(sentence(oneLine(description)));
  if (node.default !== undefined) parts.push(`Default: ${example(node.default)}.`);
  const examples = node.examples ?? [];
  if (Array.isArray(examples) && examples.length > 0)
    parts.push(`${examples.length === 1 ? 'Example' : 'Examples'}: ${examples.map(example).join(', ')}.`);
  return parts.join(' ');
}

function refDescription(page: Page, node: Node): string | undefined {
  if (node.$ref !== undefined)
    return definitionNode(page.root, node.$ref.replace(/^#\/definitions\//, '')).description;
  return undefined;
}

/** An example as a YAML author writes it: a string as is, anything else as YAML flow. */
function example(value: unknown): string {
  return code(typeof value === 'string' ? value : flow(value));
}

function flow(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(flow).join(', ')}]`;
  if (typeof value === 'object' && value !== null)
    return `{ ${Object.entries(value)
      .map(([k, v]) => `${k}: ${flow(v)}`)
      .join(', ')} }`;
  if (typeof value === 'string') return /^[A-Za-z0-9_./ -]+$/.test(value) ? value : JSON.stringify(value);
  return String(value);
}

// ---- Markdown -----------------------------------------------------------------------------

function link(section: Section): string {
  return `[${section.title}](#${section.anchor})`;
}

/** An inline code span that survives any backticks inside it. */
function code(text: string): string {
  const fence = text.includes('`') ? '``' : '`';
  const pad = fence === '``' ? ' ' : '';
  return `${fence}${pad}${text}${pad}${fence}`;
}

function joinOr(parts: string[]): string {
  return parts.length <= 1 ? (parts[0] ?? '') : `${parts.slice(0, -1).join(', ')} or ${parts.at(-1)}`;
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

function sentence(text: string): string {
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces as dashes. */
function githubSlug(title: string): string {
  return title
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\p{M}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** A table aligned as prettier aligns it: each column as wide as its widest cell (at least 3). */
function table(rows: readonly Row[], header = ['Key', 'Type', 'Required', 'Description']): string[] {
  const cells = rows.map((row) =>
    [row.key, row.type, row.required ? 'yes' : '', row.description].slice(0, header.length).map(cell),
  );
  const all = [header, ...cells];
  const widths = header.map((_, i) => Math.max(3, ...all.map((r) => width(r[i]!))));
  const line = (r: readonly string[]) =>
    `| ${r.map((c, i) => c + ' '.repeat(widths[i]! - width(c))).join(' | ')} |`;
  return [line(header), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...cells.map(line)];
}

/** A table cell: one line, its pipes escaped (in code spans too, as GitHub tables need). */
function cell(text: string): string {
  return oneLine(text).replace(/\|/g, '\\|');
}

/** Display width, as prettier counts it: wide East Asian characters count twice. */
function width(text: string): number {
  let n = 0;
  for (const char of text)
    n += /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\uff00-\uff60]/u.test(char) ? 2 : 1;
  return n;
}

function asNode(node: AnyNode): Node {
  return typeof node === 'boolean' ? (node ? {} : { not: {} }) : node;
}
