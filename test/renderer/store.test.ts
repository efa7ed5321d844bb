/** The GUI's live-call state, built from core events alone (no browser needed). */
import { describe, expect, it } from 'vitest';
import type { GuiEvent } from '../../main/shared/contract.ts';
import { reduceCalls, seedCalls, type CallsState } from '../../renderer/src/store.ts';

const run = (events: GuiEvent[], state: CallsState = {}) => events.reduce(reduceCalls, state);
const started: GuiEvent = { type: 'call.started', callSid: 'CA1', streamSid: 'MZ1', direction: 'inbound', from: '+1555', to: '+1666', startedAt: 1000, customParameters: {}, plugins: { stt: 's', llm: 'l', tts: 't' } };

describe('live calls from events', () => {
  it('follows a call: state, turns in order, heard vs generated, metrics, end', () => {
    const s = run([
      started,
      { type: 'call.state', callSid: 'CA1', state: 'speaking', at: 1100 },
      { type: 'transcript', callSid: 'CA1', turnId: 0, role: 'agent', text: 'Hello there, how can I help?', heard: 'Hello there,', interrupted: false, final: false, at: 1200 },
      { type: 'transcript', callSid: 'CA1', turnId: 1, role: 'caller', text: 'I need', final: false, at: 1300 },
      { type: 'transcript', callSid: 'CA1', turnId: 0, role: 'agent', text: 'Hello there, how can I help?', heard: 'Hello there,', interrupted: true, final: true, at: 1310 },
      { type: 'transcript', callSid: 'CA1', turnId: 1, role: 'caller', text: 'I need a table', final: true, at: 1400 },
      { type: 'turn.metrics', callSid: 'CA1', turnId: 1, metrics: { endpointMs: 600, sttMs: 50, llmFirstTokenMs: 200, ttsFirstAudioMs: 90, voiceToVoiceMs: 950, engineOverheadMs: 10 }, at: 1500 },
      { type: 'call.dtmf', callSid: 'CA1', digit: '5', at: 1600 },
      { type: 'call.ended', callSid: 'CA1', reason: 'stop', endedAt: 2000, durationMs: 1000 },
    ]);
    const c = s.CA1!;
    expect(c).toMatchObject({ from: '+1555', direction: 'inbound', state: null, endedAt: 2000, endReason: 'stop', dtmf: '5' });
    expect(c.turns.map((t) => t.turnId)).toEqual([0, 1]);
    expect(c.turns[0]!.agent).toEqual({ text: 'Hello there, how can I help?', heard: 'Hello there,', interrupted: true, final: true });
    expect(c.turns[1]!.caller).toEqual({ text: 'I need a table', final: true });
    expect(c.turns[1]!.metrics!.voiceToVoiceMs).toBe(950);
  });

  it('shows an outbound call while it rings, before its stream starts', () => {
    const s = run([{ type: 'call.status', callSid: 'CA2', status: 'ringing', direction: 'outbound', from: '+1666', to: '+1777', at: 10 }]);
    expect(s.CA2).toMatchObject({ status: 'ringing', direction: 'outbound', to: '+1777', state: null, endedAt: null });
    const failed = run([{ type: 'call.status', callSid: 'CA2', status: 'no-answer', at: 20 }], s);
    expect(failed.CA2).toMatchObject({ status: 'no-answer', endedAt: 20 });
  });

  it('ignores events that are not about a call, and keeps only the last 20 ended calls', () => {
    const s = run([{ type: 'plugins.changed', at: 1 }]);
    expect(s).toEqual({});
    let many: CallsState = {};
    for (let i = 0; i < 25; i++) many = run([{ ...started, callSid: `C${i}` } as GuiEvent, { type: 'call.ended', callSid: `C${i}`, reason: 'stop', endedAt: 5000 + i, durationMs: 1 }], many);
    expect(Object.keys(many)).toHaveLength(20);
    expect(many.C0).toBeUndefined();
    expect(many.C24).toBeDefined();
  });

  it('reseeds after a reconnect: new live calls appear, vanished ones end', () => {
    const before = run([started]);
    const after = seedCalls(before, [{ callSid: 'CA9', streamSid: 'MZ9', direction: 'outbound', from: '+1', to: '+2', startedAt: 5, state: 'listening', plugins: null, status: 'in-progress' }]);
    expect(after.CA9).toMatchObject({ state: 'listening', direction: 'outbound' });
    expect(after.CA1!.endedAt).not.toBeNull();
  });
});
