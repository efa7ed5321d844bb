/**
 * The contract's own rules and the Settings data: the E.164 check the Dial view uses (the very one the core
 * dials with); saving settings is all or nothing, field by field errors, live on the core, persisted without
 * secrets; plugin values are checked against the plugin's declared settings.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { settingsFilePath } from '../../main/core/config.ts';
import { isParleyError } from '../../main/core/errors.ts';
import { CHANNELS, numberProblem, normalizeNumber, validateRequest } from '../../main/shared/contract.ts';
import { createHandlers } from '../../main/ipc/handlers.ts';
import { persistSettings, pluginValueProblem, saveSettings, type SecretStore } from '../../main/core/settings.ts';
import { startTestCore, type TestCore } from '../helpers/core.ts';
import { MemorySecrets } from '../helpers/memory-secrets.ts';

describe('contract helpers', () => {
  it.each([
    ['+15551234567', null],
    ['+1 (555) 123-4567', null],
    ['0044 20 7946 0958', null],
    ['555 1234', /country code/],
    ['+0123456789', /country codes never start with 0/],
    ['+1555', /is too short/],
    ['+1555abc4567', /contains letters/],
    ['+1 555 123 4567 8901 2', /at most 15/],
    ['', /Enter a number/],
  ])('numberProblem(%j)', (input, expected) => {
    const p = numberProblem(input);
    if (expected === null) expect(p).toBeNull();
    else expect(p).toMatch(expected);
  });

  it('normalizes what people type', () => {
    expect(normalizeNumber(' +1 (555) 123-4567 ')).toBe('+15551234567');
    expect(normalizeNumber('0044 20 7946 0958')).toBe('+442079460958');
  });

  it('has a validator for every channel, refusing unknown ones', () => {
    for (const c of CHANNELS) expect(() => validateRequest(c, { definitely: 'wrong' })).toThrow();
    expect(() => validateRequest('shell.exec' as never, null)).toThrow(/unknown channel/);
  });
});

describe('settings', () => {
  let t: TestCore;
  const secrets = new MemorySecrets();
  beforeAll(async () => {
    t = await startTestCore();
  });
  afterAll(async () => t?.stop());

  it('reports every bad field at once and applies nothing', async () => {
    const before = { ...t.core.config };
    const err = await saveSettings(t.core, secrets, { values: { silenceMs: 5, greeting: 'Hi!', retentionDays: -1 }, pluginValues: { 'test-tts': { msPerChar: 'fast' } } }).catch((e) => e);
    expect(isParleyError(err, 'CONFIG_INVALID')).toBe(true);
    expect(Object.keys(err.details.fields).sort()).toEqual(['retentionDays', 'silenceMs', 'test-tts.msPerChar']);
    expect(err.details.fields.silenceMs).toMatch(/between 100 and 10000/);
    expect(t.core.config.greeting).toBe(before.greeting);
    expect(existsSync(settingsFilePath(t.dataDir))).toBe(false);
  });

  it('applies good values live, persists them, keeps secrets out of settings.json', async () => {
    const view = await saveSettings(t.core, secrets, {
      values: { silenceMs: '900', greeting: 'Good morning!', recordCalls: true },
      secrets: { twilioAuthToken: '  tok-abc  ' },
      pluginValues: { 'test-tts': { msPerChar: '20' } },
    });
    expect(t.core.conversationSettings()).toMatchObject({ silenceMs: 900, greeting: 'Good morning!' });
    expect(t.core.config.twilioAuthToken).toBe('tok-abc');
    expect(secrets.saved.get('twilioAuthToken')).toBe('tok-abc');
    expect(view.secrets.twilioAuthToken).toEqual({ set: true, source: 'keychain' });
    expect(JSON.stringify(view)).not.toContain('tok-abc');
    const file = readFileSync(settingsFilePath(t.dataDir), 'utf8');
    expect(JSON.parse(file)).toMatchObject({ silenceMs: 900, greeting: 'Good morning!', recordCalls: true, pluginSettings: { 'test-tts': { msPerChar: 20 } } });
    expect(file).not.toContain('tok-abc');
    expect(t.core.plugins.list().find((p) => p.name === 'test-tts')!.values.msPerChar).toBe(20);
  });

  it('refuses secrets where they cannot be stored safely, naming the alternative', async () => {
    const readOnly: SecretStore = { writable: () => ({ writable: false, detail: 'use .env' }), has: () => false, save: () => {}, clear: () => {} };
    const err = await saveSettings(t.core, readOnly, { secrets: { ngrokAuthtoken: 'n-1' } }).catch((e) => e);
    expect(err.details.fields).toEqual({ ngrokAuthtoken: 'use .env' });
    expect(t.core.config.ngrokAuthtoken).toBe('');
  });

  it('persistSettings never writes a secret even when asked, and keeps a corrupt file aside', () => {
    writeFileSync(settingsFilePath(t.dataDir), '{ not json');
    persistSettings(t.dataDir, { greeting: 'x', twilioAuthToken: 'leak', controlToken: 'leak', ngrokAuthtoken: 'leak' } as never);
    const text = readFileSync(settingsFilePath(t.dataDir), 'utf8');
    expect(text).not.toContain('leak');
    expect(existsSync(`${settingsFilePath(t.dataDir)}.bad`)).toBe(true);
  });

  it('the Settings view shows secrets only as set / not set', async () => {
    const handlers = createHandlers(t.core, { mode: 'electron', version: 't', secrets, openFolder: async () => true, recordingUrl: (s) => s });
    const view = await handlers['settings.get'](null);
    expect(JSON.stringify(view)).not.toContain('tok-abc');
    expect(view.secrets.ngrokAuthtoken).toEqual({ set: false, source: null });
  });

  it('checks plugin values against their declared settings', () => {
    expect(pluginValueProblem({ type: 'number', min: 0.5, max: 2 }, '3')).toMatch(/between 0.5 and 2/);
    expect(pluginValueProblem({ type: 'integer' }, 1.5)).toMatch(/whole number/);
    expect(pluginValueProblem({ type: 'enum', values: ['a', 'b'] }, 'c')).toMatch(/one of a, b/);
    expect(pluginValueProblem(undefined, 1)).toMatch(/not a setting/);
    expect(pluginValueProblem({ type: 'boolean' }, true)).toBeNull();
  });
});
