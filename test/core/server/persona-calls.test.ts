/**
 * Personas through the real server and a simulated Twilio caller: an inbound call picks its persona by the
 * number it was made to (Twilio `To`), and that persona's system prompt and greeting are what the LLM is sent
 * (read back from what test-llm was sent). A call to any other number gets the default persona.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TwilioCaller } from '../../../main/sim/twilio-caller.ts';
import type { ChatMessage } from '../../../main/core/plugins/api.ts';
import { AUDIO, startTestCore, type TestCore } from '../../helpers/core.ts';

const SALES = '+15550002222';

describe('personas on calls', () => {
  let t: TestCore;
  let dir: string;
  let sent: string;
  const requests = (): ChatMessage[][] => (existsSync(sent) ? readFileSync(sent, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as ChatMessage[]) : []);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-personas-'));
    sent = join(dir, 'llm.jsonl');
    // A quick test voice: how long the agent talks is not what this file tests.
    t = await startTestCore({ greeting: 'Hello from the front desk.', systemPrompt: 'You are the front desk.', pluginSettings: { 'test-llm': { recordTo: sent }, 'test-tts': { msPerChar: 10 } } });
    // Saved while running, as the GUI saves them: the next call reads them.
    writeFileSync(
      join(t.dataDir, 'settings.json'),
      JSON.stringify({ personas: [{ name: 'Default' }, { name: 'Sales', greeting: 'Sales, how can I help?', systemPrompt: 'You are the sales line.', numbers: [SALES] }] }),
    );
  });
  afterAll(async () => {
    await t?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function oneTurn(to: string): Promise<ChatMessage[]> {
    const before = requests().length;
    const caller = await TwilioCaller.connect({ url: t.wsUrl, to });
    await caller.waitFor('agent-start', 10_000);
    await caller.waitForAgentSilence(300, 20_000);
    const reply = caller.waitFor('agent-start', 20_000);
    await caller.sayWav(AUDIO('yes.wav')); // any words: what the LLM is sent around them is the test
    await caller.silence(300);
    await reply;
    await caller.waitForAgentSilence(400, 20_000);
    await caller.hangup();
    const asked = requests();
    expect(asked.length).toBeGreaterThan(before);
    return asked[asked.length - 1]!;
  }

  it('a call to a persona\'s number gets its system prompt and greeting; any other number the default', async () => {
    const sales = await oneTurn(SALES);
    expect(sales[0]).toMatchObject({ role: 'system' });
    expect(sales[0]!.content).toContain('You are the sales line.');
    expect(sales.some((m) => m.role === 'assistant' && m.content.includes('Sales, how can I help?'))).toBe(true);

    const other = await oneTurn('+15559990000');
    expect(other[0]!.content).toContain('You are the front desk.');
    expect(other.some((m) => m.role === 'assistant' && m.content.includes('Hello from the front desk.'))).toBe(true);
    expect(JSON.stringify(other)).not.toContain('sales line');
  }, 90_000);
});
