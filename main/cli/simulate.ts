/**
 * `npm run simulate -- --url ws://HOST:PORT/media --wav FILE... [--out agent.wav] [--token T] [--auth-token T] [--public-url U]`
 *
 * A caller that speaks the exact Twilio protocol: it waits for the agent's greeting, says each WAV in turn
 * (waiting for the agent's answer after each), hangs up, writes what the agent said to a WAV, and prints the
 * transcript (from the core's /events stream) and the per-turn latency as the caller experienced it.
 */
import { writeFileSync } from 'node:fs';
import { getExpectedTwilioSignature } from 'twilio/lib/webhooks/webhooks.js';
import { encodeWav } from '../core/audio/wav.ts';
import { readControlToken } from '../core/control-token.ts';
import { mediaStreamUrl } from '../core/twilio/twiml.ts';
import { errorMessage } from '../core/errors.ts';
import { TwilioCaller } from '../sim/twilio-caller.ts';

interface Args {
  url: string;
  wavs: string[];
  out: string;
  token: string;
  /** Sign the upgrade like Twilio does (the server checks signatures when it has an auth token). */
  authToken: string;
  publicUrl: string;
  greetingWaitMs: number;
  answerTimeoutMs: number;
  bargeIn: boolean;
}

function parse(argv: string[]): Args {
  const a: Args = { url: '', wavs: [], out: 'agent.wav', token: process.env.PARLEY_CONTROL_TOKEN || (readControlToken(process.env.PARLEY_DATA_DIR || 'data') ?? ''), authToken: process.env.TWILIO_AUTH_TOKEN ?? '', publicUrl: process.env.PUBLIC_URL ?? '', greetingWaitMs: 8_000, answerTimeoutMs: 30_000, bargeIn: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    if (flag === '--url') a.url = value();
    else if (flag === '--wav') {
      a.wavs.push(value());
      while (argv[i + 1] && !argv[i + 1]!.startsWith('--')) a.wavs.push(argv[++i]!);
    } else if (flag === '--out') a.out = value();
    else if (flag === '--token') a.token = value();
    else if (flag === '--auth-token') a.authToken = value();
    else if (flag === '--public-url') a.publicUrl = value();
    else if (flag === '--greeting-wait-ms') a.greetingWaitMs = Number(value());
    else if (flag === '--answer-timeout-ms') a.answerTimeoutMs = Number(value());
    else if (flag === '--barge-in') a.bargeIn = true;
    else if (flag === '--help' || flag === '-h') {
      process.stdout.write(
        'Usage: npm run simulate -- --url ws://HOST:PORT/media --wav FILE... [--out agent.wav] [--token CONTROL_TOKEN]\n' +
          '  --token T              the control token for the transcript (default PARLEY_CONTROL_TOKEN, or data/control-token)\n' +
          '  --auth-token T         sign the stream like Twilio (default TWILIO_AUTH_TOKEN); needed when the server checks signatures\n' +
          '  --public-url U         the public URL the signature is made for (default PUBLIC_URL; else the --url itself)\n' +
          '  --barge-in             speak each WAV 1 s into the agent\'s answer instead of after it\n' +
          '  --greeting-wait-ms N   how long to wait for a greeting (default 8000)\n' +
          '  --answer-timeout-ms N  how long to wait for each answer (default 30000)\n',
      );
      process.exit(0);
    } else throw new Error(`unknown option ${flag} (try --help)`);
  }
  if (!a.url) throw new Error('--url ws://HOST:PORT/media is required');
  if (a.wavs.length === 0) throw new Error('give at least one --wav FILE');
  return a;
}

/** Follow the core's /events stream for this call, collecting the transcript. */
function followEvents(wsUrl: string, token: string, callSid: string, lines: string[]): AbortController {
  const controller = new AbortController();
  const u = new URL(wsUrl);
  u.protocol = u.protocol === 'wss:' ? 'https:' : 'http:';
  u.pathname = '/events';
  u.search = `?callSid=${encodeURIComponent(callSid)}`;
  void (async () => {
    try {
      const res = await fetch(u, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: controller.signal });
      if (!res.ok || !res.body) {
        lines.push(`(no transcript: ${u.origin}/events answered ${res.status}${res.status === 401 ? ' — pass --token' : ''})`);
        return;
      }
      let buf = '';
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += Buffer.from(chunk).toString('utf8');
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const data = block.split('\n').find((l) => l.startsWith('data: '));
          if (!data) continue;
          const e = JSON.parse(data.slice(6));
          if (e.type === 'transcript' && e.final) {
            if (e.role === 'caller') lines.push(`caller: ${e.text}`);
            else lines.push(`agent:  ${e.interrupted ? `${e.heard} [cut — unheard: "${e.text.slice(e.heard.length).trim()}"]` : e.text}`);
          } else if (e.type === 'turn.metrics') {
            const m = e.metrics;
            lines.push(`        (engine: endpoint ${m.endpointMs} ms, stt ${m.sttMs} ms, llm first token ${m.llmFirstTokenMs} ms, tts first audio ${m.ttsFirstAudioMs} ms, voice-to-voice ${m.voiceToVoiceMs} ms)`);
          } else if (e.type === 'call.error') lines.push(`  error: ${e.code}: ${e.message}`);
          else if (e.type === 'call.interrupted') lines.push(`  [${e.source}]`);
        }
      }
    } catch (err) {
      if (!controller.signal.aborted) lines.push(`(transcript stream ended: ${errorMessage(err)})`);
    }
  })();
  return controller;
}

async function main(): Promise<void> {
  const args = parse(process.argv.slice(2));
  // Twilio signs the wss:// URL it connects to: the public one when there is one.
  const signedFor = args.publicUrl ? mediaStreamUrl(args.publicUrl) : args.url;
  const headers: Record<string, string> = args.authToken ? { 'x-twilio-signature': getExpectedTwilioSignature(args.authToken, signedFor, {}) } : {};
  const caller = await TwilioCaller.connect({ url: args.url, headers });
  const transcript: string[] = [];
  const events = followEvents(args.url, args.token, caller.callSid, transcript);
  const latencies: { turn: number; ms: number | null }[] = [];
  try {
    await caller.waitFor('agent-start', args.greetingWaitMs).then(
      () => caller.waitForAgentSilence(700, 60_000),
      () => undefined,
    );
    for (const [i, wav] of args.wavs.entries()) {
      if (args.bargeIn && i > 0) await caller.waitFor('agent-start', args.answerTimeoutMs).catch(() => undefined).then(() => caller.silence(1_000));
      const answer = caller.waitFor<{ firstArrival: number }>('agent-start', args.answerTimeoutMs);
      await caller.sayWav(wav);
      const spokeAt = caller.utteranceEnds.at(-1)!;
      try {
        const burst = await answer;
        latencies.push({ turn: i + 1, ms: Math.round(burst.firstArrival - spokeAt) });
        if (!args.bargeIn) await caller.waitForAgentSilence(700, 60_000);
      } catch {
        latencies.push({ turn: i + 1, ms: null });
      }
    }
    await caller.silence(300);
  } finally {
    await caller.hangup();
    await new Promise((r) => setTimeout(r, 200));
    events.abort();
  }
  writeFileSync(args.out, encodeWav(caller.agentAudio(), 8000));
  process.stdout.write(`call ${caller.callSid}\n\n${transcript.join('\n') || '(no transcript)'}\n\n`);
  process.stdout.write('turn  end of caller speech → first agent audio (as the caller heard it)\n');
  for (const l of latencies) process.stdout.write(`${String(l.turn).padStart(4)}  ${l.ms === null ? 'no answer' : `${l.ms} ms`}\n`);
  process.stdout.write(`\nclears received: ${caller.clears.length}; protocol violations: ${caller.protocolViolations.length ? caller.protocolViolations.join('; ') : 'none'}\n`);
  process.stdout.write(`agent audio written to ${args.out}\n`);
}

main().catch((err) => {
  process.stderr.write(`simulate: ${errorMessage(err)}\n`);
  process.exit(1);
});
