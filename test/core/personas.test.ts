import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ownerMessageText, personaByName, personaForInbound, personasFromSettings, smsToAnyNumberAllowed, validatePersonas } from '../../main/core/personas.ts';
import { CallPersonas } from '../../main/core/personas-for-calls.ts';
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

  it('the text for the owner names the caller and the number to call back, and fits one message', () => {
    expect(ownerMessageText({ name: 'Ann', callback: '+15550002222', message: ' Call me\nback. ' })).toBe('Message from Ann (+15550002222): Call me back.');
    expect(ownerMessageText({ name: '', callback: '', message: 'Hi' })).toBe('Message from a caller (no number given): Hi');
    const long = ownerMessageText({ name: 'Bo', callback: '+15550002222', message: 'x'.repeat(3000) });
    expect(long).toHaveLength(1600);
    expect(long.endsWith('…')).toBe(true);
  });

  it("a call keeps the persona its dial named; one deleted before the call is answered gives the default, saying why", () => {
    const dir = tempDir();
    const config = loadConfig({ env: {}, file: null, argv: [], overrides: { dataDir: dir } });
    const book = new CallPersonas(config);
    book.save([{ name: 'Main' }, { name: 'Sales', numbers: ['+15550009999'], transferNumber: '+15550008888' }]);
    book.dialled('CA1', book.forDial('sales'));
    expect(book.of('CA1').name).toBe('Sales'); // before its stream opens (an early answering-machine verdict)
    expect(book.open('CA1', 'outbound', '+15550001111').name).toBe('Sales');
    expect(book.of('CA1').transferNumber).toBe('+15550008888');
    expect(book.open('CA2', 'inbound', '+15550009999').name).toBe('Sales');
    expect(book.open('CA3', 'inbound', '+15550000000').name).toBe('Main');
    book.dialled('CA4', { name: 'Sales' });
    book.save([{ name: 'Main' }]);
    const got = book.open('CA4', 'outbound', null);
    expect(got.name).toBe('Main');
    expect(got.problem).toMatch(/No persona named "Sales"/);
    expect(() => book.save([{ name: 'Main', ownerNumber: 'call me' }])).toThrow(/"ownerNumber" "call me" is not an E\.164 number/);
    expect(book.list().map((p) => p.name)).toEqual(['Main']);
  });
});
