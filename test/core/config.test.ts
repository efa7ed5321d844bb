import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseArgs, SETTINGS } from '../../main/core/config.ts';
import { renderEnvExample } from '../../main/core/env-example.ts';

describe('config', () => {
  it('layers defaults < settings file < environment < flags', () => {
    const c = loadConfig({ env: { PORT: '4000', PARLEY_SILENCE_MS: '800' }, file: { port: 5000, greeting: 'From the file', silenceMs: 700 }, argv: ['--silence-ms', '900'] });
    expect(c.port).toBe(4000);
    expect(c.greeting).toBe('From the file');
    expect(c.silenceMs).toBe(900);
    expect(c.minSpeechMs).toBe(150);
    expect(c.bargeInMinMs).toBe(250);
  });

  it('takes plugin settings as repeatable --set plugin.setting=value', () => {
    const c = loadConfig({ env: {}, file: null, argv: ['--set', 'llama-llm.model=./my.gguf', '--set=llama-llm.threads=2', '--stt', 'whisper-stt'] });
    expect(c.pluginSettings).toEqual({ 'llama-llm': { model: './my.gguf', threads: '2' } });
    expect(c.stt).toBe('whisper-stt');
  });

  it.each([
    [['--port', 'eighty'], /--port must be a whole number \(got "eighty"\)/],
    [['--port', '70000'], /--port must be between 0 and 65535/],
    [['--vad', 'magic'], /--vad must be one of silero, energy/],
    [['--bogus'], /Unknown option --bogus/],
    [['--set', 'nodot'], /--set "nodot" must look like <plugin>.<setting>=<value>/],
    [['--silence-ms'], /--silence-ms needs a value/],
  ])('rejects %j with a message that names the fix', (argv, message) => {
    expect(() => loadConfig({ env: {}, file: null, argv })).toThrow(message);
  });

  it('rejects bad environment values by name', () => {
    expect(() => loadConfig({ env: { PUBLIC_URL: 'not a url' }, file: null })).toThrow(/PUBLIC_URL must be an absolute URL/);
    expect(() => loadConfig({ env: { PARLEY_RECORD_CALLS: 'maybe' }, file: null })).toThrow(/PARLEY_RECORD_CALLS must be true or false/);
  });

  it('.env.example documents every setting and is up to date', () => {
    const committed = readFileSync(join(import.meta.dirname, '../../.env.example'), 'utf8');
    expect(committed).toBe(renderEnvExample());
    for (const def of SETTINGS) if (def.env) expect(committed).toContain(`${def.env}=`);
    for (const name of ['TWILIO_ACCOUNT_SID', 'TWILIO_AUTH_TOKEN', 'TWILIO_PHONE_NUMBER', 'PUBLIC_URL', 'NGROK_AUTHTOKEN', 'PARLEY_DATA_DIR']) expect(committed).toContain(`${name}=`);
  });

  it('parses boolean flags without a value', () => {
    expect(parseArgs(['--record-calls']).values.get('record-calls')).toBe('true');
  });
});

describe('a copied .env.example', () => {
  it('changes nothing: empty values mean "use the default"', () => {
    const env = Object.fromEntries(
      readFileSync(join(import.meta.dirname, '../../.env.example'), 'utf8')
        .split('\n')
        .filter((l) => /^[A-Z_]+=/.test(l))
        .map((l) => {
          const i = l.indexOf('=');
          const v = l.slice(i + 1);
          return [l.slice(0, i), v.startsWith('"') ? JSON.parse(v) : v];
        }),
    );
    expect(loadConfig({ env, file: null })).toEqual(loadConfig({ env: {}, file: null }));
  });
});

describe('turn-taking settings', () => {
  it('reads the turn model, its threshold (a fraction) and the preemptive switch from flags and env', () => {
    const c = loadConfig({ env: { PARLEY_TURN: 'none', PARLEY_TURN_THRESHOLD: '0.7' }, argv: ['--turn-min-ms', '250', '--preemptive', 'false'], file: null });
    expect(c.turn).toBe('none');
    expect(c.turnThreshold).toBe(0.7);
    expect(c.turnMinMs).toBe(250);
    expect(c.preemptive).toBe(false);
    const d = loadConfig({ env: {}, file: null });
    expect([d.turn, d.turnMinMs, d.turnThreshold, d.preemptive]).toEqual(['', 200, 0.5, true]);
  });

  it('refuses a threshold outside 0..1 or not a number, naming the setting', () => {
    expect(() => loadConfig({ env: {}, argv: ['--turn-threshold', '1.5'], file: null })).toThrow(/--turn-threshold must be between 0 and 1/);
    expect(() => loadConfig({ env: { PARLEY_TURN_THRESHOLD: 'high' }, file: null })).toThrow(/PARLEY_TURN_THRESHOLD must be a number/);
  });
});
