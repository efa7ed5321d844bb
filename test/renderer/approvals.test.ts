/**
 * Approve / Deny in the Calls view, against a real headless core and a simulated Twilio caller: the scripted LLM
 * calls transfer_call (an ask-first tool; a stand-in here that needs no Twilio and notes when it runs); the call
 * shows a card with what the agent wants in plain words, a countdown and the buttons Approve and Deny. Approve
 * runs the tool; the card leaves and the transcript says "Approved: transfer_call". Deny on a second call leaves
 * the tool unrun.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TwilioCaller } from '../../main/sim/twilio-caller.ts';
import type { GuiEvent } from '../../main/shared/contract.ts';
import { reduceCalls, turnsFromRecord } from '../../renderer/src/store.ts';
import { AUDIO, until } from '../helpers/core.ts';
import { shot, startGui, type GuiRig } from './helpers.ts';

const FIXTURES = resolve(fileURLToPath(new URL('.', import.meta.url)), '../fixtures/plugins-approvals');
const HUMAN = '+15557770002';

describe('Approve / Deny for ask-first tools', () => {
  let rig: GuiRig;
  let dir: string;
  let ran: string;
  const callers: TwilioCaller[] = [];
  const runs = () => (existsSync(ran) ? readFileSync(ran, 'utf8').trim().split('\n').filter(Boolean) : []);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-approvals-gui-'));
    ran = join(dir, 'ran.jsonl');
    rig = await startGui({
      greeting: '',
      recordCalls: false,
      userPluginsDir: FIXTURES,
      llm: 'approvals-llm',
      toolFiller: '',
      transferNumber: HUMAN,
      pluginSettings: { 'approvals-llm': { tool: 'transfer_call' }, 'approvals-tools': { ranTo: ran } },
    });
    await until(() => rig.core.plugins.list().some((p) => p.name === 'approvals-tools' && p.status === 'ready'), 'the tool plugin to start', 30_000);
  }, 90_000);
  afterAll(async () => {
    for (const c of callers) c.drop();
    await rig?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function askingCall() {
    const caller = await TwilioCaller.connect({ url: rig.wsUrl, from: '+15550001111', to: '+15559998888' });
    callers.push(caller);
    const detail = rig.page.locator(`.call-detail[data-sid="${caller.callSid}"]`);
    // A new call is selected only when none is: pick it in the list.
    await rig.page.locator(`.call-item[data-sid="${caller.callSid}"]`).click({ timeout: 10_000 });
    await detail.waitFor({ timeout: 10_000 });
    await caller.sayWav(AUDIO('hello.wav'));
    await caller.silence(300);
    const card = detail.locator('.approval-card[data-tool="transfer_call"]');
    await card.waitFor({ timeout: 20_000 });
    return { caller, detail, card };
  }

  it('shows the card with the transfer in plain words, a countdown, Approve and Deny; Approve runs the tool', async () => {
    const { page } = rig;
    const { caller, detail, card } = await askingCall();
    await expect(card.locator('.approval-ask').textContent()).resolves.toBe(`The agent asks to: Transfer the caller to ${HUMAN} (wants to speak to the manager)`);
    const left = Number((await card.locator('.approval-left').textContent())!.replace(/\D/g, ''));
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThanOrEqual(20);
    const approve = card.getByRole('button', { name: 'Approve', exact: true });
    const deny = card.getByRole('button', { name: 'Deny', exact: true });
    await expect(approve.isEnabled()).resolves.toBe(true);
    await expect(deny.isEnabled()).resolves.toBe(true);
    await card.scrollIntoViewIfNeeded();
    await shot(page, 'approval-card');
    expect(runs()).toEqual([]);

    await approve.click();
    await card.waitFor({ state: 'detached', timeout: 10_000 });
    await until(() => runs().length === 1, 'the tool to run', 10_000);
    expect(JSON.parse(runs()[0]!)).toEqual({ name: 'transfer_call', args: { reason: 'wants to speak to the manager' } });
    const row = detail.locator('.line.action.approval[data-tool="transfer_call"]');
    await row.waitFor({ timeout: 10_000 });
    await expect(row.textContent()).resolves.toContain('Approved: transfer_call');
    await detail.locator('.line.agent', { hasText: 'That is done.' }).waitFor({ timeout: 15_000 });
    await shot(page, 'approval-approved');
    expect(rig.pageErrors).toEqual([]);

    // History's transcript, from the records: the desk's decision, then the tool it let run.
    await until(() => (rig.core.records?.get(caller.callSid)?.events ?? []).some((e) => e.type === 'tool'), 'the tool row in the records');
    const actions = turnsFromRecord(rig.core.records!.get(caller.callSid)!).flatMap((t) => t.actions ?? []);
    expect(actions.map((a) => `${a.kind}:${'state' in a ? a.state : ''}`)).toEqual(['approval:approved', 'tool:done']);
  }, 60_000);

  it('Deny leaves the tool unrun and the transcript says so', async () => {
    const before = runs().length;
    const { detail, card } = await askingCall();
    await card.getByRole('button', { name: 'Deny', exact: true }).click();
    await card.waitFor({ state: 'detached', timeout: 10_000 });
    await detail.locator('.line.action.approval', { hasText: 'Denied: transfer_call' }).waitFor({ timeout: 10_000 });
    await detail.locator('.line.agent', { hasText: 'Sorry, I could not do that.' }).waitFor({ timeout: 15_000 });
    expect(runs().length).toBe(before);
    expect(rig.pageErrors).toEqual([]);
  }, 60_000);
});

describe('approval cards in the GUI state', () => {
  const pending: GuiEvent = { type: 'call.approval', callSid: 'CA1', approvalId: 'ap_1', turnId: 1, toolCallId: 'c1', tool: 'send_sms', arguments: { body: 'hi' }, state: 'pending', to: '+1555', deadline: 21_000, at: 1_000 };

  it('a pending approval is a card until decided; the decision is a transcript row of its turn', () => {
    const waiting = reduceCalls({}, pending);
    expect(waiting.CA1!.approvals).toEqual([{ approvalId: 'ap_1', turnId: 1, tool: 'send_sms', arguments: { body: 'hi' }, to: '+1555', at: 1_000, deadline: 21_000 }]);
    const done = reduceCalls(waiting, { ...pending, state: 'timed-out', at: 21_000 } as GuiEvent);
    expect(done.CA1!.approvals).toEqual([]);
    expect(done.CA1!.turns.find((t) => t.turnId === 1)!.actions).toEqual([{ kind: 'approval', id: 'ap_1', name: 'send_sms', state: 'timed-out' }]);
  });

  it('the end of the call takes its cards away', () => {
    const ended = reduceCalls(reduceCalls({}, pending), { type: 'call.ended', callSid: 'CA1', reason: 'stop', endedAt: 2_000, durationMs: 1_000 });
    expect(ended.CA1!.approvals).toEqual([]);
  });
});
