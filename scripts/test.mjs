#!/usr/bin/env node
// `npm test`: runs every vitest suite and prints one plain summary line, `N passed, M failed`.
// A suite that cannot run here (no Chromium for the browser tests, say) is reported LOUDLY and counted as
// failed — a green run must mean everything ran. Extra arguments go to vitest (e.g. a file filter).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const report = join(root, 'test-results', 'vitest.json');
mkdirSync(join(root, 'test-results'), { recursive: true });
rmSync(report, { force: true });

const problems = [];
const chromium = ['PARLEY_CHROMIUM', 'CHROMIUM_PATH'].map((k) => process.env[k]).find(Boolean) ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const env = { ...process.env };
if (chromium) env.PARLEY_CHROMIUM = chromium;
else problems.push('BROWSER SUITE NOT RUN: Chromium is missing. Install it with `apt-get install -y chromium` (or set PARLEY_CHROMIUM=/path/to/chromium).');

const args = ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...process.argv.slice(2)];
const run = spawnSync('npx', args, { cwd: root, env, stdio: 'inherit' });

let passed = 0;
let failed = 0;
if (existsSync(report)) {
  const r = JSON.parse(readFileSync(report, 'utf8'));
  passed = r.numPassedTests;
  failed = r.numFailedTests;
  // A file that crashed before its tests ran has no test results: count it.
  for (const file of r.testResults ?? []) {
    if (file.status === 'failed' && (file.assertionResults ?? []).every((a) => a.status !== 'failed')) {
      failed++;
      problems.push(`SUITE FAILED TO RUN: ${file.name}: ${(file.message ?? '').split('\n')[0]}`);
    }
  }
} else {
  failed++;
  problems.push(`vitest produced no report (exit status ${run.status}); see its output above.`);
}
if (problems.some((p) => p.startsWith('BROWSER'))) failed++;
for (const p of problems) process.stdout.write(`\n!!! ${p}\n`);
process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
process.exit(failed > 0 || run.status !== 0 ? 1 : 0);
