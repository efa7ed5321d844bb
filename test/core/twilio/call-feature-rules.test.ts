/** The rules behind the Twilio features, without a call: AMD verdicts, who may be texted, the transfer TwiML. */
import { describe, expect, it } from 'vitest';
import { amdVerdict } from '../../../main/core/twilio/amd.ts';
import { planSms } from '../../../main/core/twilio/messages.ts';
import { afterTransferTwiml, dialStage } from '../../../main/core/twilio/transfer.ts';
import { detectDtmf, dtmfFrames } from '../../../main/core/audio/dtmf.ts';
import { decodeFloat } from '../../../main/core/audio/mulaw.ts';

describe('answering-machine verdicts', () => {
  it.each([
    ['human', 'human', false, false],
    ['machine_end_beep', 'machine', true, false],
    ['machine_end_silence', 'machine', true, false],
    ['machine_end_other', 'machine', true, false],
    ['machine_start', 'machine', false, false],
    ['fax', 'machine', false, true],
    ['unknown', 'unknown', false, false],
    ['', 'unknown', false, false],
    ['something-new', 'unknown', false, false],
  ])('%s → %s', (answeredBy, outcome, leaveMessage, hangUp) => {
    expect(amdVerdict(answeredBy)).toMatchObject({ outcome, leaveMessage, hangUp });
  });
});

describe('who a text may go to', () => {
  const inbound = { direction: 'inbound' as const, from: '+15551230000', to: '+15005550006' };
  it("defaults to the caller, from the number they called", () => {
    expect(planSms(inbound, { body: ' hi ' }, { anyNumber: false, fallbackFrom: '' })).toEqual({ to: '+15551230000', from: '+15005550006', body: 'hi' });
  });
  it('takes the caller written differently, refuses anyone else', () => {
    expect(planSms(inbound, { body: 'x', to: '+1 555-123-0000' }, { anyNumber: false, fallbackFrom: '' }).to).toBe('+15551230000');
    expect(() => planSms(inbound, { body: 'x', to: '+15559999999' }, { anyNumber: false, fallbackFrom: '' })).toThrow(/PARLEY_SMS_TO_ANY_NUMBER/);
    expect(planSms(inbound, { body: 'x', to: '+15559999999' }, { anyNumber: true, fallbackFrom: '' }).to).toBe('+15559999999');
  });
  it('says what is wrong with a bad message or number', () => {
    expect(() => planSms(inbound, { body: '' }, { anyNumber: false, fallbackFrom: '' })).toThrow(/empty/);
    expect(() => planSms(inbound, { body: 'x'.repeat(1601) }, { anyNumber: false, fallbackFrom: '' })).toThrow(/1600/);
    expect(() => planSms({ ...inbound, from: null }, { body: 'x' }, { anyNumber: false, fallbackFrom: '' })).toThrow(/withheld/);
    expect(() => planSms(inbound, { body: 'x', to: '555' }, { anyNumber: true, fallbackFrom: '' })).toThrow(/E\.164/);
  });
});

describe('after a transfer', () => {
  const back = { streamUrl: 'wss://x.example/media', parameters: { callSid: 'CA1', direction: 'inbound' } };
  it('hangs up after the human took it, comes back to the agent otherwise', () => {
    expect(afterTransferTwiml(dialStage('completed'), back)).toContain('<Hangup/>');
    expect(afterTransferTwiml(dialStage('answered'), back)).toContain('<Hangup/>');
    for (const s of ['no-answer', 'busy', 'failed', 'weird']) {
      const twiml = afterTransferTwiml(dialStage(s), back);
      expect(twiml).toContain('<Connect><Stream url="wss://x.example/media">');
      expect(twiml).toContain(`<Parameter name="resume" value="transfer-${s === 'weird' ? 'failed' : s}"/>`);
    }
  });
});

describe('DTMF tones', () => {
  it('every key decodes back to itself; w is silence', () => {
    const keys = '0123456789*#ABCD';
    const samples = decodeFloat(Buffer.concat(dtmfFrames(keys)));
    const perKey = 240 * 8; // 120 ms tone + 120 ms gap at 8 kHz
    for (let i = 0; i < keys.length; i++) expect(detectDtmf(samples.subarray(i * perKey + 160, i * perKey + 800))).toBe(keys[i]);
    expect(detectDtmf(decodeFloat(Buffer.concat(dtmfFrames('w'))))).toBeNull();
    expect(() => dtmfFrames('12x')).toThrow(/not a key sequence/);
  });
});
