/**
 * "Ask first" tools through the real server and a simulated Twilio caller: a scripted LLM plugin calls an
 * ask-first tool (send_sms by default, a stand-in that needs no Twilio and writes a line when it runs); the core
 * emits `call.approval` pending and says the approval filler while the desk decides over
 * `POST /calls/:callSid/approvals/:approvalId`. Approve runs the tool and its result reaches the next chat; Deny,
 * no answer and the call's end leave it unrun and tell the LLM so. Bad requests get 400 / 404 / 409 that say why.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TwilioCaller } from '../../../main/sim/twilio-caller.ts';
import type { ChatMessage } from '../../../main/core/plugins/api.ts';
import type { EventOf } from '../../../main/core/event-bus.ts';
import { asksFirst } from '../../../main/core/tools/approvals.ts';
import { validateRequest } from '../../../main/shared/contract.ts';
import { createHandlers } from '../../../main/ipc/handlers.ts';
import { environmentOnlySecrets } from '../../../main/web/headless-host.ts';
import { AUDIO, startTestCore, until, type TestCore } from '../../helpers/core.ts';

const FIXTURES = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../fixtures/plugins-approvals');
const PHRASE = 'One moment, let me check that.';
const CALLER = '+15550002222';

type Approval = EventOf<'call.approval'>;

describe('ask-first tools', () => {
  let t: TestCore;
  let dir: string;
  let chats: string;
  let ran: string;
  const open: TwilioCaller[] = [];

  const post = (path: string, body: unknown) => fetch(`${t.url}${path}`, { method: 'POST', headers: { ...t.auth, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const lines = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean) : []);
  const runs = () => lines(ran).map((l) => JSON.parse(l) as { name: string; args: Record<string, unknown> });
  const requests = () => lines(chats).map((l) => JSON.parse(l) as ChatMessage[]);
  const approvals = (callSid: string) => t.events.filter((e): e is Approval => e.type === 'call.approval' && e.callSid === callSid);
  const agentFinal = (callSid: string) => t.events.filter((e) => e.type === 'transcript' && e.role === 'agent' && e.final && e.callSid === callSid) as { text: string; heard: string }[];

  /** A call whose caller speaks once: the LLM calls its tool, which waits for the desk. Returns the pending event. */
  async function askingCall(connect: { url?: string; callSid?: string } = {}): Promise<{ caller: TwilioCaller; pending: Approval }> {
    const caller = await TwilioCaller.connect({ url: t.wsUrl, from: CALLER, to: '+15559990000', ...connect });
    open.push(caller);
    await until(() => t.core.calls().some((c) => c.callSid === caller.callSid && c.state === 'listening'), 'the call to connect');
    // Any words will do (the scripted LLM calls its tool on the first turn): a short one.
    await caller.sayWav(AUDIO('yes.wav'));
    await caller.silence(300);
    await until(() => approvals(caller.callSid).some((e) => e.state === 'pending'), 'the tool to ask the desk', 20_000);
    return { caller, pending: approvals(caller.callSid).find((e) => e.state === 'pending')! };
  }

  /** The tool message the LLM was sent after the tool call, from the request that followed it. */
  async function toolResultSent(toolCallId: string): Promise<string> {
    let found: string | undefined;
    await until(() => {
      found = requests()
        .flat()
        .find((m) => m.role === 'tool' && m.toolCallId === toolCallId)?.content;
      return found !== undefined;
    }, 'the LLM to get the tool result', 20_000);
    return found!;
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-approvals-'));
    chats = join(dir, 'chats.jsonl');
    ran = join(dir, 'ran.jsonl');
    t = await startTestCore({
      greeting: '',
      userPluginsDir: FIXTURES,
      llm: 'approvals-llm',
      toolFiller: '',
      maxCalls: 8,
      pluginSettings: { 'approvals-llm': { recordTo: chats }, 'approvals-tools': { ranTo: ran } },
    });
    await until(() => t.core.plugins.list().some((p) => p.name === 'approvals-tools' && p.status === 'ready'), 'the tool plugin to start', 30_000);
  }, 60_000);
  afterEach(() => {
    for (const c of open.splice(0)) c.drop();
  });
  afterAll(async () => {
    await t?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('waits for Approve, says the filler meanwhile, then runs the tool and gives the LLM its result', async () => {
    const before = runs().length;
    const { caller, pending } = await askingCall();
    expect(pending).toMatchObject({ tool: 'send_sms', arguments: { body: 'Your table for two is booked for 7 pm.' }, to: CALLER, turnId: 1 });
    expect(pending.deadline! - pending.at).toBe(20_000);
    // The caller hears the filler while the desk decides (Twilio echoed its mark): not silence.
    await until(
      () => t.events.some((e) => e.type === 'transcript' && e.role === 'agent' && e.callSid === caller.callSid && e.heard.includes(PHRASE)),
      'the caller to hear the approval filler',
      15_000,
    );
    expect(runs().length).toBe(before);

    const res = await post(`/calls/${caller.callSid}/approvals/${pending.approvalId}`, { decision: 'approve' });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ok: true, approvalId: pending.approvalId, state: 'approved' });
    expect(await toolResultSent(pending.toolCallId)).toBe('Text sent.');
    expect(runs().slice(before)).toEqual([{ name: 'send_sms', args: { body: 'Your table for two is booked for 7 pm.' } }]);
    expect(approvals(caller.callSid).map((e) => e.state)).toEqual(['pending', 'approved']);

    // Deciding again is a conflict, not a second run.
    const again = await post(`/calls/${caller.callSid}/approvals/${pending.approvalId}`, { decision: 'deny' });
    expect(again.status).toBe(409);
    expect((await again.json()).error).toMatchObject({ code: 'APPROVAL_DECIDED', message: expect.stringContaining('already approved') });

    await until(() => agentFinal(caller.callSid).length > 0, 'the reply to finish', 20_000);
    const reply = agentFinal(caller.callSid)[0]!.text;
    expect(reply.startsWith(PHRASE)).toBe(true);
    expect(reply.split(PHRASE).length).toBe(2); // said once
    expect(reply).toContain('That is done.');
    expect(runs().length).toBe(before + 1);

    // The decision is in the call's records.
    await until(() => (t.core.records?.get(caller.callSid)?.events ?? []).some((e) => e.type === 'approval'), 'the approval in the records');
    expect(t.core.records!.get(caller.callSid)!.events.filter((e) => e.type === 'approval').map((e) => e.data)).toEqual([
      expect.objectContaining({ approvalId: pending.approvalId, tool: 'send_sms', state: 'approved', turnId: 1, to: CALLER }),
    ]);
    await caller.hangup();
  }, 60_000);

  it('Deny: the tool does not run and the LLM hears that the desk declined', async () => {
    const before = runs().length;
    const { caller, pending } = await askingCall();
    const res = await post(`/calls/${caller.callSid}/approvals/${pending.approvalId}`, { decision: 'deny' });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ state: 'denied' });
    expect(await toolResultSent(pending.toolCallId)).toMatch(/person at the desk declined send_sms, so it was not run/);
    await until(() => agentFinal(caller.callSid).length > 0, 'the reply to finish', 20_000);
    expect(agentFinal(caller.callSid)[0]!.text).toContain('Sorry, I could not do that.');
    expect(runs().length).toBe(before);
    expect(t.events.some((e) => e.type === 'call.tool' && e.callSid === caller.callSid)).toBe(false);
    await caller.hangup();
  }, 60_000);

  it('no decision before the deadline counts as denied, even past the plugin step timeout', async () => {
    // The wait (4 s) is longer than one plugin step may take (2.5 s): the reply must stay alive through it.
    t.core.applySettings({ approvalTimeoutMs: 4_000, pluginTimeoutMs: 2_500 });
    try {
      const before = runs().length;
      const { caller, pending } = await askingCall();
      expect(pending.deadline! - pending.at).toBe(4_000);
      await until(() => approvals(caller.callSid).some((e) => e.state === 'timed-out'), 'the approval to time out', 15_000);
      expect(await toolResultSent(pending.toolCallId)).toMatch(/nobody answered in time, so it was not run/);
      await until(() => agentFinal(caller.callSid).length > 0, 'the reply to finish', 20_000);
      expect(agentFinal(caller.callSid)[0]!.text).toContain('Sorry, I could not do that.');
      expect(t.events.filter((e) => e.type === 'call.error' && e.callSid === caller.callSid)).toEqual([]);
      expect(runs().length).toBe(before);
      // Too late to decide now.
      const late = await post(`/calls/${caller.callSid}/approvals/${pending.approvalId}`, { decision: 'approve' });
      expect(late.status).toBe(409);
      expect(runs().length).toBe(before);
      await caller.hangup();
    } finally {
      t.core.applySettings({ approvalTimeoutMs: 20_000, pluginTimeoutMs: 15_000 });
    }
  }, 60_000);

  it('the call ending while it waits cancels the wait: denied, and the tool never runs', async () => {
    const before = runs().length;
    const { caller, pending } = await askingCall();
    await caller.hangup();
    await until(() => approvals(caller.callSid).some((e) => e.state !== 'pending'), 'the wait to be cancelled', 10_000);
    expect(approvals(caller.callSid).at(-1)).toMatchObject({ approvalId: pending.approvalId, state: 'denied', cancelled: true });
    expect(runs().length).toBe(before);
  }, 60_000);

  it('the caller talking over the wait cancels it: denied, and the tool never runs', async () => {
    const before = runs().length;
    const { caller, pending } = await askingCall();
    await caller.waitForAgentSilence(300, 15_000); // the filler has been played
    await caller.sayWav(AUDIO('hello.wav'));
    await caller.silence(300);
    await until(() => approvals(caller.callSid).some((e) => e.approvalId === pending.approvalId && e.state !== 'pending'), 'the wait to be cancelled', 15_000);
    expect(approvals(caller.callSid).find((e) => e.approvalId === pending.approvalId && e.state !== 'pending')).toMatchObject({ state: 'denied', cancelled: true });
    expect(runs().length).toBe(before);
    await caller.hangup();
  }, 60_000);

  it("a test call asks the same way, and the GUI's calls.approve decides", async () => {
    const before = runs().length;
    const handlers = createHandlers(t.core, { mode: 'headless', version: 't', secrets: environmentOnlySecrets, openFolder: async () => false, recordingUrl: (sid) => sid });
    const testCall = `${t.url.replace(/^http/, 'ws')}/test-call?token=${encodeURIComponent(t.token)}`;
    const { caller, pending } = await askingCall({ url: testCall, callSid: 'TEST' + 'ab'.repeat(16) });
    expect(pending.tool).toBe('send_sms');
    expect(await handlers['calls.approve']({ callSid: caller.callSid, approvalId: pending.approvalId, approve: false })).toEqual({ state: 'denied' });
    await expect(handlers['calls.approve']({ callSid: caller.callSid, approvalId: pending.approvalId, approve: true })).rejects.toMatchObject({ code: 'APPROVAL_DECIDED' });
    expect(await toolResultSent(pending.toolCallId)).toMatch(/declined/);
    expect(runs().length).toBe(before);
    await caller.hangup();
  }, 60_000);

  it('answers bad decisions with what is wrong: 400 for the body, 404 for an unknown call or approval', async () => {
    const { caller, pending } = await askingCall();
    const path = `/calls/${caller.callSid}/approvals/${pending.approvalId}`;
    for (const body of [{}, { decision: 'yes' }, { decision: 'approve', note: 'x' }, ['approve']]) {
      const res = await post(path, body);
      expect(res.status).toBe(400);
      expect((await res.json()).error.message).toMatch(/"decision"|JSON object/);
    }
    const noCall = await post(`/calls/CA00000000000000000000000000000000/approvals/${pending.approvalId}`, { decision: 'approve' });
    expect(noCall.status).toBe(404);
    expect((await noCall.json()).error.code).toBe('CALL_NOT_FOUND');
    const noApproval = await post(`/calls/${caller.callSid}/approvals/ap_nope`, { decision: 'approve' });
    expect(noApproval.status).toBe(404);
    expect((await noApproval.json()).error).toMatchObject({ code: 'APPROVAL_NOT_FOUND', message: expect.stringContaining('call.approval') });
    // None of that decided anything: it still waits.
    expect(approvals(caller.callSid).map((e) => e.state)).toEqual(['pending']);
    expect((await post(path, { decision: 'deny' })).status).toBe(200);
    await caller.hangup();
  }, 60_000);
});

describe('which tools ask first', () => {
  const spec = (name: string, askFirst?: boolean) => ({ name, ...(askFirst ? { askFirst } : {}) });

  it('follows --ask-first; the default adds tools whose plugin marks them askFirst; an explicit setting wins', () => {
    const def = 'transfer_call,send_sms';
    expect(asksFirst(def, spec('send_sms'), 'send-sms')).toBe(true);
    expect(asksFirst(def, spec('transfer_call'), 'transfer-call')).toBe(true);
    expect(asksFirst(def, spec('end_call'), 'end-call')).toBe(false);
    expect(asksFirst(def, spec('book_table', true), 'approvals-tools')).toBe(true);
    expect(asksFirst('none', spec('send_sms', true), 'send-sms')).toBe(false);
    expect(asksFirst('send_sms', spec('book_table', true), 'approvals-tools')).toBe(false);
    expect(asksFirst('send_sms', spec('transfer_call'), 'transfer-call')).toBe(false);
    expect(asksFirst('approvals-tools', spec('opening_hours'), 'approvals-tools')).toBe(true);
  });

  it('calls.approve is validated like every channel', () => {
    expect(validateRequest('calls.approve', { callSid: 'CA1', approvalId: 'ap_1', approve: true })).toEqual({ callSid: 'CA1', approvalId: 'ap_1', approve: true });
    expect(() => validateRequest('calls.approve', { callSid: 'CA1', approvalId: 'ap_1', approve: 'yes' })).toThrow(/"approve" must be true/);
    expect(() => validateRequest('calls.approve', { callSid: 'CA1', approvalId: 'ap_1', approve: true, extra: 1 })).toThrow(/unexpected field "extra"/);
  });
});
