/**
 * Tool calling through the real server (issue 14): a simulated Twilio caller on the real WebSocket, real plugin
 * workers, a scripted LLM plugin (test/fixtures/plugins-tools/tools-llm) that yields the tool calls a test wrote
 * for it and records every chat, a user's own tool plugin (tools-kit) dropped into the user plugins folder next to
 * copies of the built-in end-call and take-message. Assertions are on what the LLM was sent, what reached the tool,
 * the events and what the caller got — never on how long something took.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../main/core/config.ts';
import type { EventOf } from '../../../main/core/event-bus.ts';
import { AUDIO, until, type TestCore } from '../../helpers/core.ts';
import { FROM, KIT_TOOLS, placeCall, toolMessages, toolsCore, type Step } from './helpers.ts';

// The caller's turn: what they say is not read (the scripted LLM follows its script), so a short word will do.
const TURN = AUDIO('yes.wav');

describe('tools through the real server', () => {
  let t: TestCore;
  let work: string;
  beforeAll(async () => {
    ({ t, work } = await toolsCore({ toolTimeoutMs: 20_000 }));
  }, 60_000);
  afterAll(async () => {
    await t?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it("offers a user's own tool plugin with the built-ins, runs its tool, and the result reaches the next chat, then the answer is spoken", async () => {
    const c = await placeCall(t, work, [[{ toolCalls: [{ id: 'call-a1', name: 'lookup_order', arguments: { order: 'A-123' } }] }, { text: 'Your order ships on Tuesday.' }]]);
    await c.caller.sayWav(TURN);
    await c.agentSaid('Your order ships on Tuesday.');
    await c.caller.waitForAgentSilence(300, 15_000);

    const chats = c.chats();
    expect(chats).toHaveLength(2);
    // Offered: every tool of the user's plugin, as it declared them, and the built-ins.
    const offered = chats[0]!.tools!;
    expect(offered.map((s) => s.name).sort()).toEqual([...KIT_TOOLS, 'end_call', 'take_message'].sort());
    expect(offered.find((s) => s.name === 'lookup_order')).toEqual({
      name: 'lookup_order',
      description: 'Look up when an order ships.',
      parameters: { type: 'object', properties: { order: { type: 'string', minLength: 3, description: 'The order number' } }, required: ['order'], additionalProperties: false },
    });
    // The second chat: the first one's messages, then the assistant's tool call and the tool's result, ids matching.
    const second = chats[1]!.messages;
    expect(second.slice(0, chats[0]!.messages.length)).toEqual(chats[0]!.messages);
    expect(second.slice(chats[0]!.messages.length)).toEqual([
      { role: 'assistant', content: '', toolCalls: [{ id: 'call-a1', name: 'lookup_order', arguments: { order: 'A-123' } }] },
      { role: 'tool', toolCallId: 'call-a1', name: 'lookup_order', content: 'Order A-123 ships on Tuesday.' },
    ]);
    // The tool ran once, for this call, with the arguments the LLM gave.
    expect(c.toolNotes()).toEqual([
      { callSid: c.callSid, name: 'lookup_order', args: { order: 'A-123' }, phase: 'start' },
      { callSid: c.callSid, name: 'lookup_order', args: { order: 'A-123' }, phase: 'end' },
    ]);
    expect(c.tools().map((e) => [e.toolCallId, e.state, e.result])).toEqual([
      ['call-a1', 'running', undefined],
      ['call-a1', 'done', 'Order A-123 ships on Tuesday.'],
    ]);
    // The caller heard the answer: it was played to the end (every mark echoed), and audio arrived.
    const answer = c.agentFinals().at(-1)!;
    expect(answer.text).toMatch(/Your order ships on Tuesday\.$/);
    expect(answer.interrupted).toBe(false);
    expect(answer.heard).toBe(answer.text);
    expect(c.caller.received.filter((r) => r.msg.event === 'media').length).toBeGreaterThan(10);

    // The next turn's history keeps the tool call and its result.
    await c.caller.sayWav(AUDIO('yes.wav'));
    await until(() => c.chats().length === 3, 'the next turn', 20_000);
    const third = c.chats()[2]!.messages;
    expect(toolMessages(third)).toEqual([{ role: 'tool', toolCallId: 'call-a1', name: 'lookup_order', content: 'Order A-123 ships on Tuesday.' }]);
    await c.caller.hangup();
    expect(c.caller.protocolViolations).toEqual([]);
  });

  it('checks arguments against the schema: bad ones never reach the tool, and the LLM is told what is wrong', async () => {
    const c = await placeCall(t, work, [
      [
        {
          toolCalls: [
            { id: 'bad-1', name: 'lookup_order', arguments: { order: 7, coupon: 'X' } },
            { id: 'bad-2', name: 'lookup_order', arguments: {} },
            { id: 'bad-3', name: 'no_such_tool', arguments: {} },
          ],
        },
        { text: 'Sorry, which order was it?' },
      ],
    ]);
    await c.caller.sayWav(TURN);
    await c.agentSaid('Sorry, which order was it?');
    await c.caller.hangup();

    expect(c.toolNotes()).toEqual([]);
    const results = toolMessages(c.chats()[1]!.messages);
    expect(results.map((m) => m.toolCallId)).toEqual(['bad-1', 'bad-2', 'bad-3']);
    expect(results[0]!.content).toMatch(/^Error: invalid arguments for lookup_order: /);
    expect(results[0]!.content).toContain('"order" must be string, not integer');
    expect(results[0]!.content).toContain('"coupon" is not a parameter of this tool (it takes: order)');
    expect(results[1]!.content).toContain('"order" is required');
    expect(results[2]!.content).toMatch(/there is no tool named "no_such_tool"\. Tools: .*lookup_order/);
    expect(c.tools().map((e) => e.state)).toEqual(['failed', 'failed', 'failed']);
  });

  it('limits the tool steps of one turn: after 4 steps with tools, the LLM is asked once more without them', async () => {
    const step = (n: number): Step => ({ toolCalls: [{ id: `loop-${n}`, name: 'lookup_order', arguments: { order: `L-00${n}` } }] });
    const c = await placeCall(t, work, [[step(1), step(2), step(3), step(4), step(5), step(6)]], 'Let me tell you what I found.');
    await c.caller.sayWav(TURN);
    await c.agentSaid('Let me tell you what I found.');
    await c.caller.hangup();

    const chats = c.chats();
    expect(chats.map((ch) => (ch.tools ? 'tools' : 'none'))).toEqual(['tools', 'tools', 'tools', 'tools', 'none']);
    expect(c.toolNotes().filter((n) => n.phase === 'end').map((n) => n.args.order)).toEqual(['L-001', 'L-002', 'L-003', 'L-004']);
    // The last chat still sees every call and result.
    expect(toolMessages(chats[4]!.messages).map((m) => m.toolCallId)).toEqual(['loop-1', 'loop-2', 'loop-3', 'loop-4']);
  });

  it('end_call: the goodbye is played to the caller, then the stream closes and the call is recorded as ended by the agent', async () => {
    const c = await placeCall(t, work, [[{ toolCalls: [{ id: 'bye-1', name: 'end_call', arguments: { reason: 'the caller said goodbye' } }] }, { text: 'Goodbye, have a nice day.' }]]);
    const closed = c.caller.waitFor<number>('close', 30_000);
    await c.caller.sayWav(TURN);
    expect(await closed).toBe(1000);
    await until(() => c.events().some((e) => e.type === 'call.ended'), 'call.ended');

    const goodbye = c.agentFinals().at(-1)!;
    expect(goodbye.text).toMatch(/Goodbye, have a nice day\.$/);
    // Every clause's mark came back from the caller's side before the stream closed: they heard all of it.
    expect(goodbye.interrupted).toBe(false);
    expect(goodbye.heard).toBe(goodbye.text);
    const ended = c.events().find((e): e is EventOf<'call.ended'> => e.type === 'call.ended')!;
    expect(ended.reason).toBe('the caller said goodbye');
    expect(goodbye.at).toBeLessThanOrEqual(ended.endedAt);
    expect(c.tools().at(-1)).toMatchObject({ name: 'end_call', state: 'done', result: 'The call will end after your next reply. Say a short goodbye now.' });
    // The records.
    await until(() => t.core.calls().every((x) => x.callSid !== c.callSid), 'the call to be gone');
    const record = await (await fetch(`${t.url}/records/calls/${c.callSid}`, { headers: t.auth })).json();
    expect(record.endReason).toBe('the caller said goodbye');
    expect(record.turns.at(-1).agentText).toMatch(/Goodbye, have a nice day\.$/);
    expect(record.events.some((e: { type: string; data: { name?: string; state?: string } }) => e.type === 'tool' && e.data.name === 'end_call' && e.data.state === 'done')).toBe(true);
  });

  it("take_message: keeps the message with the caller's number as the callback by default", async () => {
    const c = await placeCall(t, work, [[{ toolCalls: [{ id: 'msg-1', name: 'take_message', arguments: { name: 'Ann Lee', message: 'Please call back about the invoice.' } }] }, { text: 'I will pass it on.' }]]);
    await c.caller.sayWav(TURN);
    await c.agentSaid('I will pass it on.');
    await c.caller.hangup();

    const taken = c.events().filter((e): e is EventOf<'call.message'> => e.type === 'call.message');
    expect(taken.map((m) => [m.name, m.callback, m.message])).toEqual([['Ann Lee', FROM, 'Please call back about the invoice.']]);
    expect(toolMessages(c.chats()[1]!.messages)[0]!.content).toBe(`Message taken from Ann Lee, callback ${FROM}. Tell the caller it will be passed on.`);
    await until(() => t.events.some((e) => e.type === 'messages.changed'), 'the inbox to change');
    const inbox = await (await fetch(`${t.url}/records/messages`, { headers: t.auth })).json();
    expect(inbox.messages.filter((m: { callSid: string }) => m.callSid === c.callSid).map((m: { name: string; callback: string; message: string }) => [m.name, m.callback, m.message])).toEqual([
      ['Ann Lee', FROM, 'Please call back about the invoice.'],
    ]);
  });

  it('a tool slower than the filler threshold makes the agent say the filler while it runs, then the answer', async () => {
    const c = await placeCall(t, work, [[{ toolCalls: [{ id: 'slow-1', name: 'slow_lookup', arguments: { ms: 2_500 } }] }, { text: 'Found it, it is in stock.' }]]);
    await c.caller.sayWav(TURN);
    await c.agentSaid('Found it, it is in stock.');
    await c.caller.hangup();

    const final = c.agentFinals().at(-1)!;
    expect(final.text).toBe('One moment. Found it, it is in stock.');
    // The filler went out while the tool was still running: shown before the tool's `done`.
    const events = c.events();
    const done = events.findIndex((e) => e.type === 'call.tool' && e.state === 'done');
    const filler = events.findIndex((e) => e.type === 'transcript' && e.role === 'agent' && !e.final && e.text.startsWith('One moment.'));
    expect(filler).toBeGreaterThanOrEqual(0);
    expect(filler).toBeLessThan(done);
    // Said once per reply, and not to the LLM: its history holds the tool exchange only.
    expect(toolMessages(c.chats()[1]!.messages)).toEqual([{ role: 'tool', toolCallId: 'slow-1', name: 'slow_lookup', content: 'The slow lookup found it.' }]);
  });

  it('barge-in during a tool run cancels it and what follows; the tool that already acted is recorded as done', async () => {
    const c = await placeCall(t, work, [
      [
        {
          toolCalls: [
            { id: 'bk-1', name: 'book_table', arguments: { name: 'Ann' } },
            { id: 'sl-1', name: 'slow_lookup', arguments: { ms: 15_000 } },
            { id: 'lo-1', name: 'lookup_order', arguments: { order: 'Z-999' } },
          ],
        },
        { text: 'This must never be said.' },
      ],
      [{ text: 'Sure, go on.' }],
    ]);
    await c.caller.sayWav(AUDIO('hello.wav'));
    await until(() => c.tools().some((e) => e.name === 'slow_lookup' && e.state === 'running'), 'the slow tool to start', 20_000);
    await c.caller.sayWav(AUDIO('interrupt.wav'));
    await c.agentSaid('Sure, go on.');
    await c.caller.hangup();

    expect(c.events().some((e) => e.type === 'call.interrupted')).toBe(true);
    // The tool that acted is done; the one in flight was cancelled (and saw its signal abort); the next never ran.
    expect(c.tools().filter((e) => e.state !== 'running').map((e) => [e.name, e.state])).toEqual([
      ['book_table', 'done'],
      ['slow_lookup', 'cancelled'],
    ]);
    expect(c.toolNotes().map((n) => [n.name, n.phase])).toEqual([
      ['book_table', 'start'],
      ['book_table', 'end'],
      ['slow_lookup', 'start'],
      ['slow_lookup', 'aborted'],
    ]);
    // No LLM step after the cancelled tool: every later chat is for the caller's new turn (it ends with their
    // words, not with tool results; a reply prepared during a pause inside that turn, then dropped, is one more
    // such chat, depending on when the cancelled reply finished winding down), and the history of the one that
    // answered says what was done, what was cut off and what never ran (every tool call has its result).
    const chats = c.chats();
    const later = chats.slice(1);
    expect(later.length).toBeGreaterThanOrEqual(1);
    expect(later.length).toBeLessThanOrEqual(2);
    for (const chat of later) expect(chat.messages.at(-1)!.role).toBe('user');
    const answered = chats.at(-1)!;
    expect(answered.messages.filter((m) => m.role === 'user')).toHaveLength(2);
    const results = toolMessages(answered.messages);
    expect(results.map((m) => m.toolCallId)).toEqual(['bk-1', 'sl-1', 'lo-1']);
    expect(results[0]!.content).toBe('Booked a table for Ann.');
    expect(results[1]!.content).toMatch(/^Error: the caller interrupted/);
    expect(results[2]!.content).toMatch(/^Error: not run/);
    expect(c.events().some((e) => e.type === 'transcript' && e.text.includes('This must never be said'))).toBe(false);
  });
});

describe('tools that fail, and --tools', () => {
  let t: TestCore;
  let work: string;
  beforeAll(async () => {
    // `--tools tools-kit`: a tool plugin's name offers all of its tools and nothing else.
    const { tools } = loadConfig({ argv: ['--tools', 'tools-kit'], env: {}, file: null });
    expect(tools).toBe('tools-kit');
    ({ t, work } = await toolsCore({ tools, toolTimeoutMs: 1_000, toolFiller: '' }));
  }, 60_000);
  afterAll(async () => {
    await t?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('a hanging, a throwing and a garbage-returning tool each give the LLM an error result, and the call goes on', async () => {
    const c = await placeCall(t, work, [
      [
        {
          toolCalls: [
            { id: 'h-1', name: 'hang_forever', arguments: {} },
            { id: 'x-1', name: 'explode', arguments: {} },
            { id: 'g-1', name: 'garbage', arguments: {} },
          ],
        },
        { text: 'Sorry, the system is not answering.' },
      ],
      [{ text: 'Still here.' }],
    ]);
    await c.caller.sayWav(TURN);
    await c.agentSaid('Sorry, the system is not answering.');

    const offered = c.chats()[0]!.tools!.map((s) => s.name).sort();
    expect(offered).toEqual(KIT_TOOLS);
    const results = toolMessages(c.chats()[1]!.messages);
    expect(results.map((m) => m.toolCallId)).toEqual(['h-1', 'x-1', 'g-1']);
    expect(results[0]!.content).toBe('Error: hang_forever failed: hang_forever did not answer within 1000 ms');
    expect(results[1]!.content).toMatch(/^Error: explode failed: .*the order database is down$/);
    expect(results[2]!.content).toBe('Error: garbage returned a content that is number, not a string');
    expect(c.tools().filter((e) => e.state !== 'running').map((e) => [e.name, e.state])).toEqual([
      ['hang_forever', 'failed'],
      ['explode', 'failed'],
      ['garbage', 'failed'],
    ]);
    // The call goes on: the next turn is answered, nothing ended it and no plugin failure was reported.
    await c.caller.sayWav(AUDIO('yes.wav'));
    await c.agentSaid('Still here.');
    expect(c.events().filter((e) => e.type === 'call.ended' || e.type === 'call.error')).toEqual([]);
    await c.caller.hangup();
  });
});

describe('PARLEY_TOOLS', () => {
  let t: TestCore;
  let work: string;
  beforeAll(async () => {
    const { tools } = loadConfig({ env: { PARLEY_TOOLS: 'lookup_order, take_message' }, file: null });
    ({ t, work } = await toolsCore({ tools }));
  }, 60_000);
  afterAll(async () => {
    await t?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('offers only the named tools; a tool that is not offered is refused, not run', async () => {
    const c = await placeCall(t, work, [[{ toolCalls: [{ id: 'e-1', name: 'end_call', arguments: {} }, { id: 'b-1', name: 'book_table', arguments: { name: 'Ann' } }] }, { text: 'I cannot do that.' }]]);
    await c.caller.sayWav(TURN);
    await c.agentSaid('I cannot do that.');
    expect(c.chats()[0]!.tools!.map((s) => s.name).sort()).toEqual(['lookup_order', 'take_message']);
    const results = toolMessages(c.chats()[1]!.messages);
    expect(results.map((m) => m.toolCallId)).toEqual(['e-1', 'b-1']);
    expect(results[0]!.content).toMatch(/^Error: there is no tool named "end_call"\. Tools: (lookup_order, take_message|take_message, lookup_order)\.$/);
    expect(results[1]!.content).toMatch(/^Error: there is no tool named "book_table"\. Tools: (lookup_order, take_message|take_message, lookup_order)\.$/);
    expect(c.toolNotes()).toEqual([]);
    expect(c.events().some((e) => e.type === 'call.ended')).toBe(false);
    await c.caller.hangup();
  });
});
