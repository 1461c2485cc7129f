/**
 * `npm run emulators`: the local Google Sheets and Airtable emulators the tests use, on free
 * ports, with the spreadsheet and base the example trackers write to. Prints the environment
 * to export so `strata sync`, `strata serve` and `strata worker` write to them. For trying
 * trackers on a laptop without cloud credentials; Ctrl-C stops them.
 */
import { Compiler } from '../src/core/compile.js';
import { loadProject } from '../src/project/load-project.js';
import { startFakeAirtable } from '../test/support/fake-airtable.js';
import { FakeSheets } from '../test/support/fake-sheets.js';

const TOKEN = 'local-emulator-token';
const project = loadProject(process.cwd());
const sheets = await new FakeSheets({ tokens: [TOKEN] }).start();
sheets.addSpreadsheet('demo-sheet', [{ title: 'Readme' }]);
const airtable = await startFakeAirtable();
const labels = new Compiler(project.model)
  .compile('movie_cast', { dialect: 'duckdb' })
  .columns.map((c) => c.label);
airtable.createTable('appDemo', 'Cast', labels);

process.stdout.write(`# Google Sheets emulator at ${sheets.url}, Airtable emulator at ${airtable.url}
export STRATA_GOOGLE_ACCESS_TOKEN=${TOKEN}
export STRATA_SHEETS_ROOT_URL=${sheets.url}
export STRATA_DEMO_SPREADSHEET_ID=demo-sheet
export STRATA_AIRTABLE_TOKEN=${airtable.token}
export STRATA_AIRTABLE_ENDPOINT_URL=${airtable.url}
export STRATA_DEMO_AIRTABLE_BASE=appDemo
export BI_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test
`);
const stop = async () => {
  await sheets.close();
  await airtable.close();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
