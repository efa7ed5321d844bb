import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { personaByName, personaForInbound, personasFromSettings, smsToAnyNumberAllowed, validatePersonas } from '../../main/core/personas.ts';
import { loadConfig } from '../../main/core/config.ts';
import { readPersonas, savePersonas } from '../../main/core/settings.ts';

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'parley-personas-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const OLD_SETTINGS = {
  greeting: 'Hello, Acme Plumbing.',
  systemPrompt: 'You answer for Acme Plumbing.',
  tts: 'melo-tts',
  tools: 'end_call,take_message',
  transferNumber: '+15550001111',
  voicemailMessage: 'Please call us back.',
  silenceMs: 700,
  pluginSettings: { 'melo-tts': { speaker: 'EN-US', speed: 1.1 }, 'llama-llm': { threads: 2 } },
};

describe('personas', () => {
  it('an old settings file (no personas) loads as one "Default" persona with nothing lost', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'settings.json'), JSON.stringify(OLD_SETTINGS));
    const [p, ...rest] = readPersonas(dir);
    expect(rest).toEqual([]);
    expect(p).toMatchObject({
      name: 'Default',
      greeting: 'Hello, Acme Plumbing.',
      systemPrompt: 'You answer for Acme Plumbing.',
      voice: { plugin: 'melo-tts', settings: { speaker: 'EN-US', speed: 1.1 } },
      tools: 'end_call,take_message',
      transferNumber: '+15550001111',
      voicemailMessage: 'Please call us back.',
      smsToAnyNumber: null,
      numbers: [],
    });
    // The old file still loads as config, unchanged.
    const c = loadConfig({ env: {}, file: JSON.parse(readFileSync(join(dir, 'settings.json'), 'utf8')), argv: [] });
    expect(c.greeting).toBe('Hello, Acme Plumbing.');
    expect(c.silenceMs).toBe(700);
  });

  it('no settings file at all gives a Default persona too', () => {
    expect(readPersonas(tempDir()).map((p) => p.name)).toEqual(['Default']);
  });

  it('saved personas round-trip through settings.json and keep the other settings', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'settings.json'), JSON.stringify(OLD_SETTINGS));
    savePersonas(dir, [{ name: 'Default' }, { name: 'Sales', greeting: 'Sales here.', numbers: ['+1 (555) 222-3333'], smsToAnyNumber: true }]);
    const file = JSON.parse(readFileSync(join(dir, 'settings.json'), 'utf8'));
    expect(file.silenceMs).toBe(700);
    const ps = readPersonas(dir);
    expect(ps.map((p) => p.name)).toEqual(['Default', 'Sales']);
    // Left-out fields take today's settings.
    expect(ps[0]!.greeting).toBe('Hello, Acme Plumbing.');
    expect(ps[1]).toMatchObject({ greeting: 'Sales here.', systemPrompt: 'You answer for Acme Plumbing.', numbers: ['+15552223333'], smsToAnyNumber: true });
  });

  it('an inbound call picks its persona by the number called, else the default', () => {
    const ps = personasFromSettings({ personas: [{ name: 'Main' }, { name: 'Support', numbers: ['+15550009999'] }] });
    expect(personaForInbound(ps, '+15550009999').name).toBe('Support');
    expect(personaForInbound(ps, '+15550000000').name).toBe('Main');
    expect(personaForInbound(ps, undefined).name).toBe('Main');
  });

  it('an outbound call names one; an unknown name is a clear error listing the known ones', () => {
    const ps = personasFromSettings({ personas: [{ name: 'Main' }, { name: 'Support' }] });
    expect(personaByName(ps, 'support').name).toBe('Support');
    expect(personaByName(ps, undefined).name).toBe('Main');
    expect(() => personaByName(ps, 'Nope')).toThrow(/No persona named "Nope"\. Known personas: "Main", "Support"/);
  });

  it('bad persona lists are refused naming the fix', () => {
    expect(() => validatePersonas([{ name: 'A' }, { name: 'a' }])).toThrow(/Two personas are named "a"/);
    expect(() => validatePersonas([{ name: 'A', numbers: ['555'] }])).toThrow(/not an E\.164 number/);
    expect(() => validatePersonas([{ name: 'A', numbers: ['+15551112222'] }, { name: 'B', numbers: ['+15551112222'] }])).toThrow(/answered by both "A" and "B"/);
    expect(() => validatePersonas([{ greeting: 'hi' }])).toThrow(/has no name/);
    expect(() => savePersonas(tempDir(), [])).toThrow(/at least one persona/);
  });

  it('send_sms to any number follows the persona, else the global setting', () => {
    expect(smsToAnyNumberAllowed({ smsToAnyNumber: null }, false)).toBe(false);
    expect(smsToAnyNumberAllowed({ smsToAnyNumber: null }, true)).toBe(true);
    expect(smsToAnyNumberAllowed({ smsToAnyNumber: true }, false)).toBe(true);
    expect(smsToAnyNumberAllowed({ smsToAnyNumber: false }, true)).toBe(false);
  });
});
