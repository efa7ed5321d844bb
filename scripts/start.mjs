#!/usr/bin/env node
// `npm start`: until the desktop shell lands, this runs the headless server (same as `npm run headless`).
import { spawn } from 'node:child_process';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'main', 'headless.ts'), ...process.argv.slice(2)], { cwd: process.cwd(), stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
