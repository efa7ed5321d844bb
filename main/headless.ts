/**
 * `npm run headless -- [options]`: the core without Electron. Prints `listening on http://HOST:PORT`.
 * Run with --help for every option (they mirror the environment variables in .env.example).
 */
import { createCore } from './core/app.ts';
import { helpText, loadConfig, parseArgs } from './core/config.ts';
import { errorMessage, isParleyError } from './core/errors.ts';

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (parseArgs(argv).help) {
    process.stdout.write(helpText('npm run headless --'));
    return;
  }
  const config = loadConfig({ argv });
  const core = createCore(config);
  const addr = await core.start();
  process.stdout.write(`listening on ${addr.url}\n`);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    core.log.info(`${signal}: ending calls and stopping`);
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    await core.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((err) => {
  process.stderr.write(`parley: ${isParleyError(err) ? err.message : errorMessage(err)}\n`);
  if (!isParleyError(err) && err instanceof Error && err.stack) process.stderr.write(err.stack + '\n');
  process.exit(1);
});
