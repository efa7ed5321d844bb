/**
 * The person at the desk on a live call (Calls view): **Listen** (both sides, mixed, with a volume control; off
 * by default), **Whisper** (a private note for the agent's next reply), **Take over** (speak to the caller through
 * the mic; the agent stops and waits) and **Hand back** (the agent resumes, knowing what was said).
 *
 * Audio rides the /desk WebSocket (audio/desk-stream.ts); taking over and handing back are the `calls.takeOver`
 * channel, so a call taken over elsewhere (the HTTP API, another window) shows here too and can be handed back.
 * One call at a time per window is joined; joining another leaves the first.
 */
import { useState } from 'preact/hooks';
import { toast } from '../app-state.ts';
import { bridge, call, messageOf, tokenFromLocation } from '../bridge.ts';
import { Store, useStore, type CallView } from '../store.ts';
import { microphoneProblem, openMicrophone, type Microphone } from '../audio/microphone.ts';
import { SpeakerPlayer } from '../audio/player.ts';
import { DeskStream, deskUrl } from '../audio/desk-stream.ts';
import { ActionButton } from './ui.tsx';

interface DeskState {
  /** The call this window has joined (listening or speaking), or null. */
  callSid: string | null;
  listening: boolean;
  /** This window's mic is going to the caller. */
  speaking: boolean;
  volume: number;
}

export const desk = new Store<DeskState>({ callSid: null, listening: false, speaking: false, volume: 0.8 });

let joined: { callSid: string; stream: DeskStream; ctx: AudioContext; gain: GainNode; mic: Microphone | null } | null = null;

async function socketUrl(callSid: string): Promise<string> {
  if (bridge.mode === 'electron') {
    const info = await call('app.info');
    if (!info.deskUrl) throw new Error('The server is not running: the status bar says why.');
    return `${info.deskUrl}&callSid=${encodeURIComponent(callSid)}`;
  }
  const token = tokenFromLocation(location.hash);
  if (!token) throw new Error('This page has no GUI token: open the link Parley printed at start-up (it ends in #token=…).');
  return deskUrl(location, token, callSid);
}

function leave(): void {
  const j = joined;
  joined = null;
  if (!j) return;
  j.mic?.stop();
  j.stream.close();
  void j.ctx.close().catch(() => {});
  desk.update((d) => ({ ...d, callSid: null, listening: false, speaking: false }));
}

/** Join `callSid`'s audio (in a click: the AudioContext needs the user's gesture), leaving any other call. */
async function join(callSid: string): Promise<NonNullable<typeof joined>> {
  if (joined?.callSid === callSid && !joined.stream.ended) return joined;
  leave();
  const ctx = new AudioContext({ latencyHint: 'interactive' });
  try {
    const url = await socketUrl(callSid);
    await ctx.resume();
    const gain = ctx.createGain();
    gain.gain.value = desk.get().volume;
    gain.connect(ctx.destination);
    const stream = new DeskStream({
      socket: new WebSocket(url),
      caller: new SpeakerPlayer(ctx, gain),
      agent: new SpeakerPlayer(ctx, gain),
      onEnd: (reason) => {
        if (joined?.stream !== stream) return;
        leave();
        if (!reason.startsWith('the call ended') && reason !== 'you left the call') toast(`Listen / take over: ${reason}`, 'error');
      },
    });
    joined = { callSid, stream, ctx, gain, mic: null };
    desk.update((d) => ({ ...d, callSid }));
    return joined;
  } catch (err) {
    void ctx.close().catch(() => {});
    throw err;
  }
}

function leaveIfIdle(): void {
  const d = desk.get();
  if (!d.listening && !d.speaking) leave();
}

async function setListening(callSid: string, on: boolean): Promise<void> {
  if (!on) {
    joined?.stream.listen(false);
    desk.update((d) => ({ ...d, listening: false }));
    return leaveIfIdle();
  }
  const j = await join(callSid);
  j.stream.listen(true);
  desk.update((d) => ({ ...d, listening: true }));
}

function setVolume(volume: number): void {
  desk.update((d) => ({ ...d, volume }));
  if (joined) joined.gain.gain.value = volume;
}

async function takeOver(callSid: string): Promise<void> {
  const j = await join(callSid);
  // The mic first, so the caller hears the first words said after the click.
  if (!j.mic) {
    try {
      j.mic = await openMicrophone(j.ctx, (frame) => j.stream.sendFrame(frame));
    } catch (err) {
      leaveIfIdle();
      throw new Error(microphoneProblem(err));
    }
  }
  j.stream.speaking = true;
  desk.update((d) => ({ ...d, speaking: true }));
  await call('calls.takeOver', { callSid, take: true });
}

async function handBack(callSid: string): Promise<void> {
  await call('calls.takeOver', { callSid, take: false });
  if (joined?.callSid === callSid) {
    joined.mic?.stop();
    joined.mic = null;
    joined.stream.speaking = false;
  }
  desk.update((d) => ({ ...d, speaking: false }));
  leaveIfIdle();
}

export function DeskControls(props: { c: CallView }) {
  const c = props.c;
  const d = useStore(desk);
  const [note, setNote] = useState('');
  const here = d.callSid === c.callSid;
  const listening = here && d.listening;
  const takenOver = c.takenOver === true;
  const fail = (what: string) => (err: unknown) => toast(`${what}: ${messageOf(err)}`, 'error');
  return (
    <section class="desk" aria-label="You on this call" data-taken-over={takenOver ? 'true' : 'false'}>
      <div class="toolbar">
        <button type="button" class={`btn plain${listening ? ' on' : ''}`} aria-pressed={listening} onClick={() => void setListening(c.callSid, !listening).catch(fail('Could not listen'))}>
          Listen
        </button>
        <label class="volume small muted">
          Volume{' '}
          <input type="range" min="0" max="1" step="0.05" value={d.volume} aria-label="Listen volume" onInput={(e) => setVolume(Number((e.target as HTMLInputElement).value))} />
        </label>
        {takenOver ? (
          <ActionButton kind="primary" busyLabel="Handing back…" onAction={() => handBack(c.callSid)} onError={fail('Could not hand back')}>
            Hand back
          </ActionButton>
        ) : (
          <ActionButton kind="primary" busyLabel="Taking over…" onAction={() => takeOver(c.callSid)} onError={fail('Could not take over')}>
            Take over
          </ActionButton>
        )}
      </div>
      {takenOver ? (
        <p class="small takeover-banner" role="status">
          {here && d.speaking ? 'You have the call: the caller hears your mic. The agent is silent until you hand it back.' : 'The call is taken over (from elsewhere): the agent is silent until it is handed back.'}
        </p>
      ) : null}
      <form
        class="whisper"
        onSubmit={(e) => {
          e.preventDefault();
          const text = note.trim();
          if (!text) return;
          call('calls.whisper', { callSid: c.callSid, text }).then(
            () => {
              setNote('');
              toast('Note sent: the agent will use it in its next reply. The caller does not hear it.');
            },
            fail('Could not whisper'),
          );
        }}
      >
        <input type="text" maxLength={1000} value={note} placeholder="Whisper to the agent, e.g. offer Tuesday instead" aria-label="Whisper to the agent" onInput={(e) => setNote((e.target as HTMLInputElement).value)} />
        <button type="submit" class="btn plain" disabled={!note.trim()}>
          Whisper
        </button>
      </form>
    </section>
  );
}

