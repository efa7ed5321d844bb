/**
 * **Test call**: talk to the agent through this computer's mic and speakers — no Twilio account, no tunnel.
 * The page opens /test-call (docs/api.md) and plays Twilio for the engine (audio/test-call-stream.ts), so the
 * call runs on the same plugins, turn-taking, barge-in and records as a phone call, shows up live in Calls and
 * is kept in History as a test call. **End test call** stops it. One test call at a time per window; it goes on
 * while you switch views.
 *
 * Drop `<TestCallButton />` anywhere (Calls, Get started): every instance shows the same call.
 */
import { toast } from '../app-state.ts';
import { bridge, call, messageOf, tokenFromLocation } from '../bridge.ts';
import { Store, useStore } from '../store.ts';
import { microphoneProblem, openMicrophone, type Microphone } from '../audio/microphone.ts';
import { SpeakerPlayer } from '../audio/player.ts';
import { TestCallStream, testCallUrl } from '../audio/test-call-stream.ts';

export type TestCallState = { phase: 'idle'; error: string | null } | { phase: 'starting' } | { phase: 'live'; callSid: string };

export const testCall = new Store<TestCallState>({ phase: 'idle', error: null });

let running: { stream: TestCallStream; mic: Microphone | null; ctx: AudioContext } | null = null;

/** Where the page reaches /test-call, or why it can't: the desktop app asks the app; the browser GUI uses its own origin. */
async function socketUrl(): Promise<string> {
  if (bridge.mode === 'electron') {
    const info = await call('app.info');
    if (!info.testCallUrl) throw new Error('The server is not running, so a test call cannot start: the status bar says why.');
    return info.testCallUrl;
  }
  const token = tokenFromLocation(location.hash);
  if (!token) throw new Error('This page has no GUI token: open the link Parley printed at start-up (it ends in #token=…).');
  return testCallUrl(location, token);
}

function teardown(): void {
  const r = running;
  running = null;
  if (!r) return;
  r.mic?.stop();
  void r.ctx.close().catch(() => {});
}

export async function startTestCall(): Promise<void> {
  if (running || testCall.get().phase !== 'idle') return;
  testCall.set({ phase: 'starting' });
  let ctx: AudioContext | null = null;
  try {
    // Created in the click (a user gesture), so the browser lets it play.
    ctx = new AudioContext({ latencyHint: 'interactive' });
    const url = await socketUrl();
    await ctx.resume();
    const speaker = new SpeakerPlayer(ctx);
    const socket = new WebSocket(url);
    const stream = new TestCallStream({
      socket,
      speaker,
      onEnd: (reason) => {
        teardown();
        testCall.set({ phase: 'idle', error: null });
        if (reason !== 'you ended the test call' && reason !== 'the call ended') toast(`Test call: ${reason}`, 'error');
      },
    });
    running = { stream, mic: null, ctx };
    try {
      running.mic = await openMicrophone(ctx, (frame) => stream.sendFrame(frame));
    } catch (err) {
      stream.stop();
      throw new Error(microphoneProblem(err));
    }
    if (stream.ended) return;
    testCall.set({ phase: 'live', callSid: stream.callSid });
  } catch (err) {
    teardown();
    if (ctx && ctx.state !== 'closed') void ctx.close().catch(() => {});
    testCall.set({ phase: 'idle', error: messageOf(err) });
  }
}

export function endTestCall(): void {
  running?.stream.stop();
  teardown();
  testCall.set({ phase: 'idle', error: null });
}

export function TestCallButton(props: { class?: string }) {
  const state = useStore(testCall);
  return (
    <div class={`test-call ${props.class ?? ''}`} data-phase={state.phase} style={{ margin: '0.25rem 0 0.75rem' }}>
      <div class="toolbar">
        {state.phase === 'live' ? (
          <button type="button" class="btn danger" onClick={endTestCall} data-sid={state.callSid}>
            End test call
          </button>
        ) : (
          <button type="button" class="btn primary" disabled={state.phase === 'starting'} aria-busy={state.phase === 'starting'} onClick={() => void startTestCall()}>
            {state.phase === 'starting' ? 'Starting…' : 'Test call'}
          </button>
        )}
      </div>
      <p class="muted small" style={{ margin: '0.35rem 0 0' }}>
        {state.phase === 'live' ? 'Live: talk through your mic; the agent answers on your speakers.' : 'Talk to the agent with your mic and speakers — no phone or Twilio needed.'}
      </p>
      {state.phase === 'idle' && state.error ? (
        <p class="error-text small" role="alert">
          {state.error}
        </p>
      ) : null}
    </div>
  );
}
