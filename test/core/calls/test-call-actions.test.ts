/**
 * A test call (the GUI's mic and speakers) has no Twilio call behind it: the tools that need a phone line say so
 * to the LLM instead of calling Twilio's REST API with a made-up callSid; ending one never calls Twilio.
 */
import { describe, expect, it, vi } from 'vitest';
import { createActionHost, twilioActionHost } from '../../../main/core/calls/action-host.ts';
import type { CallFeatures } from '../../../main/core/calls/call-features.ts';
import { createLogger } from '../../../main/core/log.ts';
import { CoreEvents } from '../../../main/core/event-bus.ts';

const TEST_SID = 'TEST0123456789abcdef';

describe('tool actions on a test call', () => {
  const features = { transfer: vi.fn(async () => undefined), sendSms: vi.fn(async () => undefined), pressKeys: vi.fn(async () => undefined) };
  const host = twilioActionHost(() => features as unknown as CallFeatures);

  it('refuses a transfer and a text message with what is wrong, and never reaches Twilio', async () => {
    await expect(host.transferCall(TEST_SID, 'asked')).rejects.toThrow(/test call .* no phone line to put the caller through/);
    await expect(host.sendSms(TEST_SID, { body: 'hi' })).rejects.toThrow(/no phone line to text the caller/);
    expect(features.transfer).not.toHaveBeenCalled();
    expect(features.sendSms).not.toHaveBeenCalled();
  });

  it('passes a real call through', async () => {
    await host.transferCall('CA0123456789abcdef0123456789abcdef', 'asked');
    await host.sendSms('CA0123456789abcdef0123456789abcdef', { body: 'hi' });
    expect(features.transfer).toHaveBeenCalledTimes(1);
    expect(features.sendSms).toHaveBeenCalledTimes(1);
  });

  it('ends a test call by closing its stream only, even with Twilio set up', async () => {
    const endStream = vi.fn(() => true);
    const hangup = vi.fn(async () => undefined);
    const actions = createActionHost({ calls: { endStream }, account: { configured: () => true, hangup }, events: new CoreEvents(), log: createLogger({ level: 'error', sinks: [] }) });
    await actions.endCall(TEST_SID, 'goodbye');
    expect(endStream).toHaveBeenCalledWith(TEST_SID, 'goodbye');
    expect(hangup).not.toHaveBeenCalled();
    await actions.endCall('CA0123456789abcdef0123456789abcdef', 'goodbye');
    expect(hangup).toHaveBeenCalledTimes(1);
  });
});
