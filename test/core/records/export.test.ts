import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { CoreEvents } from '../../../main/core/event-bus.ts';
import { CallStore } from '../../../main/core/records/call-store.ts';
import { CSV_COLUMNS, csvCell, parseSince } from '../../../main/core/records/export-format.ts';
import { agent, caller, ended, metrics, started, freshDataDirPerTest } from './helpers.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MAY1 = new Date(2025, 4, 1, 12, 0, 0).getTime(); // local noon
const APR1 = new Date(2025, 3, 1, 12, 0, 0).getTime();
const TRICKY = 'He said "no, thanks",\nthen hung up'; // quote, comma, newline

const dataDir = freshDataDirPerTest();

async function seed(): Promise<void> {
  const store = await CallStore.open({ dataDir: dataDir() });
  const events = new CoreEvents();
  store.attach(events);
  events.emit(started('CAapril', APR1, { from: '+15550000001' }));
  events.emit(caller('CAapril', 1, 'old call', APR1 + 100));
  events.emit(ended('CAapril', APR1 + 1000, 1000));
  events.emit(started('CAmay', MAY1, { from: '+15550000002' }));
  events.emit(caller('CAmay', 1, TRICKY, MAY1 + 100));
  events.emit(agent('CAmay', 1, 'Okay, goodbye then, have a nice day.', MAY1 + 200, { heard: 'Okay, goodbye', interrupted: true }));
  events.emit(metrics('CAmay', 1, MAY1 + 201));
  events.emit(caller('CAmay', 2, '=HYPERLINK("http://evil")', MAY1 + 300));
  events.emit(ended('CAmay', MAY1 + 2000, 2000));
  events.emit(started('CAempty', MAY1 + 5000, { direction: 'outbound' }));
  events.emit(ended('CAempty', MAY1 + 6000, 1000, 'no-answer'));
  await store.close();
}

async function exportTo(format: 'json' | 'csv', since?: number): Promise<string> {
  const store = await CallStore.open({ dataDir: dataDir() });
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  await store.export(out, { format, since });
  await store.close();
  return Buffer.concat(chunks).toString('utf8');
}

/** RFC 4180 reader, to check the writer from the outside. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(cell);
      cell = '';
    } else if (ch === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i++;
    } else cell += ch;
  }
  if (cell !== '' || row.length > 0) throw new Error('unterminated last row');
  return rows;
}

describe('export', () => {
  it('json: every call with its turns and events, times as ISO, oldest first', async () => {
    await seed();
    const doc = JSON.parse(await exportTo('json'));
    expect(doc).toMatchObject({ format: 'parley-call-records', version: 1, since: null });
    expect(doc.calls.map((c: { sid: string }) => c.sid)).toEqual(['CAapril', 'CAmay', 'CAempty']);
    const may = doc.calls[1];
    expect(may).toMatchObject({ startedAt: new Date(MAY1).toISOString(), endedAt: new Date(MAY1 + 2000).toISOString(), status: 'completed', durationMs: 2000 });
    expect(may.turns[0]).toMatchObject({
      turnId: 1,
      callerText: TRICKY,
      agentText: 'Okay, goodbye',
      agentFullText: 'Okay, goodbye then, have a nice day.',
      interrupted: true,
      callerAt: new Date(MAY1 + 100).toISOString(),
      latencies: { voiceToVoiceMs: 1100 },
    });
    expect(may.events.map((e: { type: string }) => e.type)).toEqual(['started', 'ended']);
    expect(doc.calls[2].turns).toEqual([]);
  });

  it('json with no calls is still a valid document', async () => {
    await (await CallStore.open({ dataDir: dataDir() })).close();
    expect(JSON.parse(await exportTo('json')).calls).toEqual([]);
  });

  it('csv: one row per turn, quoting commas, quotes and newlines, formulas defused', async () => {
    await seed();
    const text = await exportTo('csv');
    expect(text.endsWith('\r\n')).toBe(true);
    const rows = parseCsv(text);
    expect(rows[0]).toEqual([...CSV_COLUMNS]);
    const col = (name: (typeof CSV_COLUMNS)[number]) => CSV_COLUMNS.indexOf(name);
    const body = rows.slice(1);
    expect(body.map((r) => [r[col('call_sid')], r[col('turn_id')]])).toEqual([
      ['CAapril', '1'],
      ['CAmay', '1'],
      ['CAmay', '2'],
      ['CAempty', ''], // a call without turns still has its row
    ]);
    expect(body.every((r) => r.length === CSV_COLUMNS.length)).toBe(true);
    const may1 = body[1]!;
    expect(may1[col('caller_text')]).toBe(TRICKY);
    expect(may1[col('agent_heard')]).toBe('Okay, goodbye');
    expect(may1[col('agent_text')]).toBe('Okay, goodbye then, have a nice day.');
    expect(may1[col('interrupted')]).toBe('true');
    expect(may1[col('voice_to_voice_ms')]).toBe('1100');
    expect(may1[col('stt_plugin')]).toBe('whisper');
    expect(may1[col('started_at')]).toBe(new Date(MAY1).toISOString());
    expect(body[2]![col('caller_text')]).toBe(`'=HYPERLINK("http://evil")`);
    expect(body[3]![col('end_reason')]).toBe('no-answer');
    expect(body[3]![col('direction')]).toBe('outbound');
  });

  it('csv: formulas in sid, from, to, status and end reason (from a webhook) are defused too', async () => {
    const store = await CallStore.open({ dataDir: dataDir() });
    const events = new CoreEvents();
    store.attach(events);
    const evil = '=HYPERLINK("http://evil","x")';
    events.emit(started('=cmd|calc', MAY1, { from: evil, to: '@SUM(A1)', direction: 'inbound' }));
    events.emit({ type: 'call.status', callSid: '=cmd|calc', status: '+busy', at: MAY1 + 50 } as never);
    events.emit(ended('=cmd|calc', MAY1 + 100, 100, '-reason'));
    await store.close();
    const [, row] = parseCsv(await exportTo('csv'));
    const col = (name: (typeof CSV_COLUMNS)[number]) => CSV_COLUMNS.indexOf(name);
    expect(row![col('call_sid')]).toBe("'=cmd|calc");
    expect(row![col('from')]).toBe(`'${evil}`);
    expect(row![col('to')]).toBe("'@SUM(A1)");
    expect(row![col('end_reason')]).toBe("'-reason");
    // No cell of the row starts like a formula.
    expect(row!.filter((c) => /^[=+\-@\t\r]/.test(c) && !/^\+[0-9]+$/.test(c))).toEqual([]);
  });

  it('csv cells: quoted only when needed; numbers and phone numbers untouched', () => {
    expect(csvCell('plain')).toBe('plain');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('line\r\nbreak')).toBe('"line\r\nbreak"');
    expect(csvCell('+15551234567')).toBe('+15551234567');
    expect(csvCell('-5 degrees')).toBe("'-5 degrees");
    expect(csvCell(null)).toBe('');
    expect(csvCell(0)).toBe('0');
  });

  it('since: only calls started on or after it', async () => {
    await seed();
    const doc = JSON.parse(await exportTo('json', parseSince('2025-05-01')));
    expect(doc.calls.map((c: { sid: string }) => c.sid)).toEqual(['CAmay', 'CAempty']);
    expect(doc.since).toBe(new Date(2025, 4, 1).toISOString());
    expect(parseCsv(await exportTo('csv', MAY1 + 1))).toHaveLength(2); // header + CAempty
    expect(parseSince('2025-05-01T10:00:00Z')).toBe(Date.UTC(2025, 4, 1, 10));
    expect(() => parseSince('yesterday')).toThrow(/YYYY-MM-DD/);
    expect(() => parseSince('2025-02-30')).toThrow(/not a date/);
  });
});

describe('npm run export (CLI)', () => {
  const cli = (args: string[], env: Record<string, string> = {}) =>
    run(process.execPath, ['--import', 'tsx', 'main/cli/export.ts', ...args], {
      cwd: ROOT,
      env: { ...process.env, PARLEY_DATA_DIR: '', ...env },
      maxBuffer: 1 << 24,
    }).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
    );

  it('writes csv to standard output from PARLEY_DATA_DIR, with --since', async () => {
    await seed();
    const r = await cli(['--format', 'csv', '--since', '2025-05-01'], { PARLEY_DATA_DIR: dataDir() });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const rows = parseCsv(r.stdout);
    expect(rows.slice(1).map((row) => row[0])).toEqual(['CAmay', 'CAmay', 'CAempty']);
  });

  it('writes json to --out FILE from --data-dir', async () => {
    await seed();
    const out = join(dataDir(), 'export.json');
    const r = await cli(['--format', 'json', '--out', out, '--data-dir', dataDir()]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/Exported 3 call\(s\), 3 turn\(s\)/);
    expect(JSON.parse(await readFile(out, 'utf8')).calls).toHaveLength(3);
    expect(existsSync(`${out}.part`)).toBe(false);
  });

  it('says clearly when there is no database yet, and on bad usage', async () => {
    const none = await cli(['--format', 'json'], { PARLEY_DATA_DIR: join(dataDir(), 'empty') });
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/No call records yet: .*records\.db does not exist/);
    expect(existsSync(join(dataDir(), 'empty'))).toBe(false); // looking did not create anything
    const bad = await cli(['--format', 'xml'], { PARLEY_DATA_DIR: dataDir() });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--format must be json or csv, not "xml"[\s\S]*Usage:/);
    const badSince = await cli(['--format', 'csv', '--since', 'soon'], { PARLEY_DATA_DIR: dataDir() });
    expect(badSince.code).toBe(2);
    expect(badSince.stderr).toMatch(/--since "soon" is not a date/);
  });
});
