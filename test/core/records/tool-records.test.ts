/** Tool calls and taken messages in the call records: actions between turns, the inbox, the export. */
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { isParleyError } from '../../../main/core/errors.ts';
import { CoreEvents, type CoreEvent } from '../../../main/core/event-bus.ts';
import { CallStore } from '../../../main/core/records/call-store.ts';
import { validateRequest } from '../../../main/shared/contract.ts';
import { startTestCore } from '../../helpers/core.ts';
import { agent, caller, ended, freshDataDirPerTest, started } from './helpers.ts';

const T0 = Date.UTC(2025, 4, 1, 9, 0, 0);
const A = 'CA00000000000000000000000000000a01';
const B = 'CA00000000000000000000000000000b02';

const dataDir = freshDataDirPerTest();
let store: CallStore | null = null;
afterEach(async () => {
  await store?.close();
  store = null;
});

function tool(callSid: string, turnId: number, at: number, over: Partial<Extract<CoreEvent, { type: 'call.tool' }>> = {}): CoreEvent {
  return { type: 'call.tool', callSid, turnId, toolCallId: `t${turnId}`, name: 'take_message', arguments: { name: 'Ann', message: 'Call me' }, state: 'done', result: 'saved', durationMs: 42, at, ...over };
}

function message(callSid: string, at: number, over: Partial<Extract<CoreEvent, { type: 'call.message' }>> = {}): CoreEvent {
  return { type: 'call.message', callSid, name: 'Ann Lee', callback: '+15551230001', message: 'Please call back about the invoice.', at, ...over };
}

async function exportJson(s: CallStore): Promise<{ version: number; calls: Record<string, unknown>[] }> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  await s.export(out, { format: 'json' });
  out.end();
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

describe('tool calls in the records', () => {
  it('stores each finished tool call as an action between the turns, with arguments, result or error, duration and turn', async () => {
    const events = new CoreEvents();
    store = await CallStore.open({ dataDir: dataDir() });
    store.attach(events);
    events.emit(started(A, T0));
    events.emit(caller(A, 1, 'Can you take a message?', T0 + 1000));
    events.emit(tool(A, 1, T0 + 1500, { state: 'running', result: undefined, durationMs: undefined }));
    events.emit(tool(A, 1, T0 + 1600));
    events.emit(tool(A, 1, T0 + 1700, { toolCallId: 't1b', name: 'lookup', arguments: { q: 'x' }, state: 'failed', result: undefined, error: 'timed out after 5000 ms', durationMs: 5000 }));
    events.emit(agent(A, 1, 'Done, I saved it.', T0 + 2000));
    events.emit(ended(A, T0 + 3000, 3000));

    const call = store.get(A)!;
    const tools = call.events.filter((e) => e.type === 'tool');
    // The `running` state is live only: one row per call, when it finished.
    expect(tools.map((e) => e.data)).toEqual([
      { turnId: 1, toolCallId: 't1', name: 'take_message', arguments: { name: 'Ann', message: 'Call me' }, state: 'done', result: 'saved', durationMs: 42 },
      { turnId: 1, toolCallId: 't1b', name: 'lookup', arguments: { q: 'x' }, state: 'failed', error: 'timed out after 5000 ms', durationMs: 5000 },
    ]);
    // Between the caller's words and the agent's answer, on the call's clock.
    expect(tools[0]!.at).toBeGreaterThan(call.turns[0]!.callerAt!);
    expect(tools[1]!.at).toBeLessThan(call.turns[0]!.agentAt!);
  });
});

describe('messages (the inbox)', () => {
  it('stores taken messages, lists them newest first with the undone count, and marks them done', async () => {
    const events = new CoreEvents();
    const seen: string[] = [];
    events.onAny((e) => seen.push(e.type));
    store = await CallStore.open({ dataDir: dataDir() });
    store.attach(events);
    events.emit(started(A, T0));
    events.emit(message(A, T0 + 1000));
    events.emit(started(B, T0 + 5000));
    events.emit(message(B, T0 + 6000, { name: 'Bo', callback: '+15557770002', message: 'Running late' }));
    expect(seen.filter((t) => t === 'messages.changed')).toHaveLength(2);

    let inbox = store.messages();
    expect(inbox.undone).toBe(2);
    expect(inbox.messages.map((m) => [m.callSid, m.name, m.callback, m.message, m.at, m.done])).toEqual([
      [B, 'Bo', '+15557770002', 'Running late', T0 + 6000, false],
      [A, 'Ann Lee', '+15551230001', 'Please call back about the invoice.', T0 + 1000, false],
    ]);

    const done = store.markMessageDone(inbox.messages[1]!.id);
    expect(done).toMatchObject({ callSid: A, done: true });
    expect(done!.doneAt).toEqual(expect.any(Number));
    expect(seen.filter((t) => t === 'messages.changed')).toHaveLength(3);
    inbox = store.messages();
    expect(inbox.undone).toBe(1);
    expect(inbox.messages.map((m) => m.done)).toEqual([false, true]);

    // Undo, unknown ids and bad ids.
    expect(store.markMessageDone(inbox.messages[1]!.id, false)!.done).toBe(false);
    expect(store.messages().undone).toBe(2);
    expect(store.markMessageDone(99999)).toBeNull();
    let err: unknown;
    try {
      store.markMessageDone(-1);
    } catch (e) {
      err = e;
    }
    expect(isParleyError(err) && err.code === 'BAD_REQUEST').toBe(true);
    expect((err as Error).message).toMatch(/positive whole number/);

    // The call's detail holds its messages, and the message as an action row.
    expect(store.get(A)!.messages!.map((m) => m.message)).toEqual(['Please call back about the invoice.']);
    expect(store.get(A)!.events.find((e) => e.type === 'message')!.data).toMatchObject({ name: 'Ann Lee', callback: '+15551230001' });
  });

  it('deleting a call deletes its messages and tells the GUI', async () => {
    const events = new CoreEvents();
    store = await CallStore.open({ dataDir: dataDir() });
    store.attach(events);
    events.emit(started(A, T0));
    events.emit(message(A, T0 + 1000));
    events.emit(ended(A, T0 + 2000, 2000));
    const seen: string[] = [];
    events.onAny((e) => seen.push(e.type));
    await store.delete(A);
    expect(store.messages()).toEqual({ messages: [], undone: 0 });
    expect(seen).toContain('messages.changed');
  });

  it('keeps messages across a restart and a message for an unannounced call creates its row', async () => {
    store = await CallStore.open({ dataDir: dataDir() });
    store.handle(message(A, T0 + 1000));
    await store.close();
    store = await CallStore.open({ dataDir: dataDir() });
    expect(store.messages().messages.map((m) => m.callSid)).toEqual([A]);
    expect(store.get(A)).not.toBeNull();
  });
});

describe('the export', () => {
  it('adds the actions and messages of each call to the JSON export, keeping the v1 fields', async () => {
    store = await CallStore.open({ dataDir: dataDir() });
    store.handle(started(A, T0));
    store.handle(caller(A, 1, 'Take a message', T0 + 1000));
    store.handle(tool(A, 1, T0 + 1500));
    store.handle(message(A, T0 + 1500));
    store.handle(agent(A, 1, 'Saved.', T0 + 2000));
    const doc = await exportJson(store);
    expect(doc.version).toBe(1);
    const call = doc.calls[0] as Record<string, unknown>;
    expect(Object.keys(call)).toEqual(expect.arrayContaining(['sid', 'turns', 'events', 'actions', 'messages']));
    expect(call.actions).toEqual([
      { at: new Date(T0 + 1500).toISOString(), turnId: 1, toolCallId: 't1', name: 'take_message', arguments: { name: 'Ann', message: 'Call me' }, state: 'done', result: 'saved', durationMs: 42 },
    ]);
    expect(call.messages).toEqual([
      { id: expect.any(Number), name: 'Ann Lee', callback: '+15551230001', message: 'Please call back about the invoice.', at: new Date(T0 + 1500).toISOString(), done: false, doneAt: null },
    ]);
  });
});

describe('the inbox over the control API and the GUI contract', () => {
  it('GET /records/messages lists them, POST /records/messages/:id/done marks one done, bad ids get a clear error', async () => {
    const t = await startTestCore();
    try {
      t.core.events.emit(started(A, T0));
      t.core.events.emit(message(A, T0 + 1000));
      const list = await (await fetch(`${t.url}/records/messages`, { headers: t.auth })).json();
      expect(list.undone).toBe(1);
      const id = list.messages[0].id as number;
      expect((await fetch(`${t.url}/records/messages`)).status).toBe(401);
      const res = await fetch(`${t.url}/records/messages/${id}/done`, { method: 'POST', headers: { ...t.auth, 'content-type': 'application/json' }, body: '{}' });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ id, done: true });
      expect((await (await fetch(`${t.url}/records/messages`, { headers: t.auth })).json()).undone).toBe(0);
      const bad = await fetch(`${t.url}/records/messages/abc/done`, { method: 'POST', headers: { ...t.auth, 'content-type': 'application/json' }, body: '{}' });
      expect(bad.status).toBe(400);
      expect(JSON.stringify(await bad.json())).toMatch(/GET \/records\/messages/);
      expect(t.events.filter((e) => e.type === 'messages.changed').length).toBeGreaterThanOrEqual(2);
    } finally {
      await t.stop();
    }
  });

  it('checks messages.done requests from the GUI', () => {
    expect(validateRequest('messages.done', { id: 3 })).toEqual({ id: 3 });
    expect(validateRequest('messages.done', { id: 3, done: false })).toEqual({ id: 3, done: false });
    expect(() => validateRequest('messages.done', { id: 'x' })).toThrow(/positive whole number/);
    expect(() => validateRequest('messages.done', { id: 1, done: 'yes' })).toThrow(/true or false/);
    expect(() => validateRequest('messages.list', { any: 1 })).toThrow(/no request payload/);
  });
});
