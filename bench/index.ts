/**
 * `npm run bench` — engine bench (default): overhead, barge-in, 1/10/50 concurrent calls.
 * `npm run bench -- plugins [...]` — plugin bench: load time, STT RTF, LLM first token and tokens/s, TTS first
 * audio and RTF, memory, for whatever models are installed.
 * `npm run bench -- engine --levels 1,10` — fewer concurrency levels.
 * `npm run bench -- echo` — the echo guard's CPU per call at 50 calls.
 * `npm run bench -- turns` — turn-taking only: caller-side voice-to-voice, VAD lag, serial vs preemptive.
 * `npm run bench -- llm-turns MODEL.gguf` — llama-llm first token at turn 8 vs turn 1 on a kept cache.
 * `npm run bench -- concurrent --standin [--levels 1,2,4,8] [--turns 3]` — 1, 2, 4 and 8 simultaneous calls on the
 *   real plugins with real-shape stand-in models: voice-to-voice, LLM first token, late frames, loop delay, CPU, memory.
 */
import { benchEngine, formatEngineBench } from './engine.ts';

async function main(): Promise<void> {
  const [what = 'engine', ...rest] = process.argv.slice(2);
  if (what === 'plugins') {
    const { runPluginBenchCli } = await import('./plugins.ts');
    await runPluginBenchCli(rest);
    return;
  }
  if (what === 'turns') {
    const { benchTurns, formatTurnBench } = await import('./turns.ts');
    process.stdout.write(formatTurnBench(await benchTurns()) + '\n');
    return;
  }
  if (what === 'echo') {
    const { benchEcho, formatEchoBench } = await import('./echo.ts');
    process.stdout.write(formatEchoBench(await benchEcho()) + '\n');
    return;
  }
  if (what === 'llm-turns') {
    const { runLlmTurnBench } = await import('./llm-turns.ts');
    process.stdout.write((await runLlmTurnBench(rest[0]!)).text + '\n');
    return;
  }
  if (what === 'concurrent') {
    const { runConcurrentCli } = await import('./concurrent.ts');
    await runConcurrentCli(rest);
    return;
  }
  if (what !== 'engine') throw new Error(`unknown bench "${what}" (engine, turns, echo, plugins, concurrent --standin or llm-turns MODEL.gguf)`);
  const i = rest.indexOf('--levels');
  const levels = i >= 0 ? rest[i + 1]!.split(',').map(Number) : undefined;
  const result = await benchEngine({ levels });
  process.stdout.write(formatEngineBench(result) + '\n\n');
  // Turn-taking at the caller's ear (issue "Answer in the silence").
  const { benchTurns, formatTurnBench } = await import('./turns.ts');
  process.stdout.write(formatTurnBench(await benchTurns()) + '\n\n');
  // The echo guard's cost per call, on the media server's loop.
  const { benchEcho, formatEchoBench } = await import('./echo.ts');
  process.stdout.write(formatEchoBench(await benchEcho()) + '\n');
}

main().catch((err) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
