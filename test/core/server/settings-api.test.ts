/**
 * GET / PUT /settings over real HTTP against a started core: the GUI's Settings by the same rules — a good
 * change is applied live, written to settings.json (0600) and still there after a restart; a bad value is a
 * 400 naming the field; the bearer token is required; secrets are write-only, and where the core has no safe
 * place for them (headless) saving one says to use .env / the environment.
 */
import { readFileSync, statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCore } from '../../../main/core/app.ts';
import { loadConfig } from '../../../main/core/config.ts';
import { silentLogger } from '../../../main/core/log.ts';
import { HEADLESS_SECRETS_DETAIL, settingsFilePath } from '../../../main/core/settings.ts';
import { startTestCore, TEST_PLUGINS, type TestCore } from '../../helpers/core.ts';
import { MemorySecrets } from '../../helpers/memory-secrets.ts';

const TWILIO_TOKEN = 'tok-from-the-environment-4242';

async function call(t: TestCore, method: 'GET' | 'PUT', body?: unknown, auth: Record<string, string> = t.auth) {
  const res = await fetch(`${t.url}/settings`, {
    method,
    headers: { ...auth, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, text, json: JSON.parse(text) };
}

describe('GET / PUT /settings (headless: no secret store)', () => {
  let t: TestCore;
  beforeAll(async () => {
    t = await startTestCore({ twilioAuthToken: TWILIO_TOKEN });
  });
  afterAll(async () => t?.stop());

  it('needs the control token', async () => {
    expect((await call(t, 'GET', undefined, {})).status).toBe(401);
    expect((await call(t, 'PUT', { values: { greeting: 'x' } }, {})).status).toBe(401);
    expect((await call(t, 'PUT', { values: { greeting: 'x' } }, { authorization: 'Bearer wrong' })).status).toBe(401);
    expect(t.core.config.greeting).not.toBe('x');
  });

  it('GET shows the values and only whether a secret is set, never its value', async () => {
    const { status, text, json } = await call(t, 'GET');
    expect(status).toBe(200);
    expect(json.values).toMatchObject({ silenceMs: t.core.config.silenceMs, greeting: t.core.config.greeting, tts: 'test-tts' });
    expect(json.secrets).toEqual({ twilioAuthToken: { set: true, source: 'environment' }, ngrokAuthtoken: { set: false, source: null } });
    expect(json.secretStorage).toEqual({ writable: false, detail: HEADLESS_SECRETS_DETAIL });
    expect(text).not.toContain(TWILIO_TOKEN);
    expect(text).not.toContain(t.token);
    expect(json).not.toHaveProperty('controlToken');
  });

  it('PUT applies a good change live and writes it to settings.json, readable by this user only', async () => {
    const { status, json } = await call(t, 'PUT', { values: { silenceMs: 900, greeting: 'Hi from curl' }, pluginValues: { 'test-tts': { msPerChar: '20' } } });
    expect(status).toBe(200);
    expect(json.values).toMatchObject({ silenceMs: 900, greeting: 'Hi from curl' });
    expect(t.core.conversationSettings()).toMatchObject({ silenceMs: 900, greeting: 'Hi from curl' });
    expect(t.core.plugins.list().find((p) => p.name === 'test-tts')!.values.msPerChar).toBe(20);
    expect(t.events.some((e) => e.type === 'config.changed' && e.keys.includes('silenceMs'))).toBe(true);
    const file = settingsFilePath(t.dataDir);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ silenceMs: 900, greeting: 'Hi from curl', pluginSettings: { 'test-tts': { msPerChar: 20 } } });
    expect(readFileSync(file, 'utf8')).not.toContain(TWILIO_TOKEN);
    if (process.platform !== 'win32') expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('the change survives a restart: loadConfig reads it back, and a new core serves it', async () => {
    const env = { PARLEY_DATA_DIR: t.dataDir, PARLEY_BUILTIN_PLUGINS_DIR: TEST_PLUGINS, PORT: '0', PARLEY_VAD: 'energy' };
    const config = loadConfig({ env, dotenv: false });
    expect(config).toMatchObject({ silenceMs: 900, greeting: 'Hi from curl', pluginSettings: { 'test-tts': { msPerChar: 20 } } });
    const again = createCore(config, { log: silentLogger, watchPlugins: false, warmPlugins: false, records: false });
    try {
      const { url } = await again.start();
      const res = await fetch(`${url}/settings`, { headers: { authorization: `Bearer ${again.config.controlToken}` } });
      expect((await res.json()).values).toMatchObject({ silenceMs: 900, greeting: 'Hi from curl' });
    } finally {
      await again.stop();
    }
  });

  it('PUT refuses bad values field by field, as the GUI gets them, and applies nothing', async () => {
    const { status, json } = await call(t, 'PUT', { values: { silenceMs: 5, greeting: 'Not this', retentionDays: -1 }, pluginValues: { 'test-tts': { msPerChar: 'fast' } } });
    expect(status).toBe(400);
    expect(json.error.code).toBe('CONFIG_INVALID');
    expect(json.error.message).toMatch(/^Not saved: 3 settings need fixing/);
    expect(Object.keys(json.error.fields).sort()).toEqual(['retentionDays', 'silenceMs', 'test-tts.msPerChar']);
    expect(json.error.fields.silenceMs).toMatch(/between 100 and 10000/);
    expect(t.core.config.greeting).toBe('Hi from curl');
    expect(JSON.parse(readFileSync(settingsFilePath(t.dataDir), 'utf8')).greeting).toBe('Hi from curl');
  });

  it.each([
    ['a setting the GUI does not edit', { values: { port: 1 } }, /unexpected field "port"/],
    ['an unknown field', { colour: 'blue' }, /unexpected field "colour"/],
    ['not an object', ['silenceMs'], /send \{ values\?, secrets\?, clearSecrets\?, pluginValues\? \}/],
  ])('PUT with %s is a 400 BAD_REQUEST', async (_name, body, message) => {
    const { status, json } = await call(t, 'PUT', body);
    expect(status).toBe(400);
    expect(json.error.code).toBe('BAD_REQUEST');
    expect(json.error.message).toMatch(message);
  });

  it('PUT of a secret says it cannot be stored here and to use .env / the environment', async () => {
    const { status, json, text } = await call(t, 'PUT', { secrets: { ngrokAuthtoken: 'ngrok-secret-77' } });
    expect(status).toBe(400);
    expect(json.error.code).toBe('CONFIG_INVALID');
    expect(json.error.fields).toEqual({ ngrokAuthtoken: HEADLESS_SECRETS_DETAIL });
    expect(json.error.fields.ngrokAuthtoken).toMatch(/environment or \.env/);
    expect(text).not.toContain('ngrok-secret-77');
    expect(t.core.config.ngrokAuthtoken).toBe('');
  });
});

describe('PUT /settings with a secret store (the desktop app)', () => {
  const secrets = new MemorySecrets();
  let t: TestCore;
  beforeAll(async () => {
    t = await startTestCore({}, { secrets });
  });
  afterAll(async () => t?.stop());

  it('stores the secret there, applies it, and still never returns it', async () => {
    const { status, text, json } = await call(t, 'PUT', { secrets: { twilioAuthToken: '  tok-typed-in-1  ' } });
    expect(status).toBe(200);
    expect(secrets.saved.get('twilioAuthToken')).toBe('tok-typed-in-1');
    expect(t.core.config.twilioAuthToken).toBe('tok-typed-in-1');
    expect(json.secrets.twilioAuthToken).toEqual({ set: true, source: 'keychain' });
    expect(text).not.toContain('tok-typed-in-1');
    expect(readFileSync(settingsFilePath(t.dataDir), 'utf8')).not.toContain('tok-typed-in-1');
    expect((await call(t, 'GET')).text).not.toContain('tok-typed-in-1');
  });
});
