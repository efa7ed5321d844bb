/**
 * A recorded call's timeline, drawn by hand on a canvas (no library): the caller's waveform above, the
 * agent's below (peaks computed in the core, `records.timeline`), each turn's caller and agent moments, the
 * marks (turn ends with why and latency, barge-ins, backchannels, tools, any other kind) as ticks, and a
 * cursor synced to the recording's <audio>. Clicking the timeline seeks the recording.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { ReplayView, Timeline } from '../../../main/shared/contract.ts';
import { call, messageOf } from '../bridge.ts';
import { ms } from '../format.ts';

const H = 140;
const MARK_COLORS: Record<string, string> = { 'turn-end': '#2f6f4f', interrupted: '#b3261e', backchannel: '#8a6d00', tool: '#3949ab' };
const colorOf = (kind: string) => MARK_COLORS[kind] ?? '#666';

function draw(canvas: HTMLCanvasElement, tl: Timeline, cursorMs: number | null): void {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || 800;
  canvas.width = Math.round(w * dpr);
  canvas.height = Math.round(H * dpr);
  const g = canvas.getContext('2d');
  if (!g) return;
  g.scale(dpr, dpr);
  g.clearRect(0, 0, w, H);
  const total = Math.max(1, tl.peaks?.durationMs ?? Math.max(1000, ...tl.marks.map((m) => m.atMs + 500)));
  const x = (t: number) => (t / total) * w;
  const mid1 = H * 0.27;
  const mid2 = H * 0.73;
  const amp = H * 0.22;
  const wave = (peaks: number[], mid: number, color: string) => {
    // One whole-pixel column each (the loudest bucket under it): crisp at any bucket count.
    g.fillStyle = color;
    const n = peaks.length;
    if (!n) return;
    const cols = Math.floor(w);
    for (let px = 0; px < cols; px++) {
      let p = 0;
      for (let i = Math.floor((px / cols) * n); i < Math.max(Math.floor((px / cols) * n) + 1, Math.floor(((px + 1) / cols) * n)); i++) p = Math.max(p, peaks[Math.min(n - 1, i)] ?? 0);
      const h = Math.max(1, Math.round(p * amp));
      g.fillRect(px, Math.round(mid) - h, 1, h * 2);
    }
  };
  if (tl.peaks) {
    wave(tl.peaks.caller, mid1, '#4a7bd0');
    wave(tl.peaks.agent, mid2, '#d07a4a');
  }
  g.fillStyle = '#555';
  g.font = '11px system-ui, sans-serif';
  g.fillText('Caller', 4, 12);
  g.fillText('Agent', 4, H / 2 + 12);
  // Each turn: the moment the caller's words were final, and the agent's reply.
  for (const t of tl.turns) {
    if (t.callerAtMs !== null) (g.fillStyle = '#4a7bd0'), g.fillRect(x(t.callerAtMs) - 1, H / 2 - 6, 3, 6);
    if (t.agentAtMs !== null) (g.fillStyle = '#d07a4a'), g.fillRect(x(t.agentAtMs) - 1, H / 2, 3, 6);
  }
  for (const m of tl.marks) {
    g.strokeStyle = colorOf(m.kind);
    g.lineWidth = 1.5;
    g.beginPath();
    g.moveTo(x(m.atMs), 0);
    g.lineTo(x(m.atMs), H);
    g.stroke();
  }
  if (cursorMs !== null) {
    g.strokeStyle = '#111';
    g.lineWidth = 2;
    g.beginPath();
    g.moveTo(x(cursorMs), 0);
    g.lineTo(x(cursorMs), H);
    g.stroke();
  }
}

export function CallTimeline(props: { sid: string; audio: () => HTMLAudioElement | null; version?: number }) {
  const [tl, setTl] = useState<Timeline | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [cursor, setCursor] = useState<number | null>(null);
  const canvas = useRef<HTMLCanvasElement>(null);

  useEffect(() => {
    let live = true;
    call('records.timeline', { sid: props.sid, buckets: 600 }).then(
      (t) => live && (setTl(t), setError(null)),
      (err) => live && setError(messageOf(err)),
    );
    return () => {
      live = false;
    };
  }, [props.sid, props.version]);

  // The cursor follows the recording while it plays.
  useEffect(() => {
    let raf = 0;
    const tick = () => {
      const a = props.audio();
      if (a && !a.paused) setCursor(a.currentTime * 1000);
      raf = requestAnimationFrame(tick);
    };
    raf = requestAnimationFrame(tick);
    return () => cancelAnimationFrame(raf);
  }, [props.sid]);

  useEffect(() => {
    if (canvas.current && tl) draw(canvas.current, tl, cursor);
  }, [tl, cursor]);

  if (error) return <p class="error-text small">Timeline: {error}</p>;
  if (!tl) return null;
  const total = tl.peaks?.durationMs ?? null;
  return (
    <div class="timeline" data-sid={tl.callSid}>
      <canvas
        ref={canvas}
        class="timeline-canvas"
        style={{ width: '100%', height: `${H}px`, display: 'block', cursor: total ? 'pointer' : 'default' }}
        role="img"
        aria-label={`Timeline: ${tl.turns.length} turns, ${tl.marks.length} events${tl.peaks ? '' : ', no recording'}`}
        onClick={(e) => {
          const a = props.audio();
          if (!a || !total) return;
          const r = (e.currentTarget as HTMLCanvasElement).getBoundingClientRect();
          const at = ((e.clientX - r.left) / r.width) * total;
          a.currentTime = at / 1000;
          setCursor(at);
        }}
      />
      <ol class="timeline-marks small">
        {tl.turns.map((t) => (
          <li key={`t${t.turnId}`} class="tl-turn" data-turn={t.turnId}>
            <span class="tl-at">{t.callerAtMs !== null ? ms(t.callerAtMs) : '—'}</span> Turn {t.turnId}: {t.callerText ? `“${t.callerText}”` : '(no caller words)'}
            {t.voiceToVoiceMs !== null ? ` · reply after ${ms(t.voiceToVoiceMs)}` : ''}
            {t.interrupted ? ' · interrupted' : ''}
          </li>
        ))}
        {tl.marks.map((m, i) => (
          <li key={`m${i}`} class={`tl-mark tl-${m.kind}`} data-kind={m.kind}>
            <span class="tl-dot" style={{ background: colorOf(m.kind) }} aria-hidden="true" /> <span class="tl-at">{ms(m.atMs)}</span> {m.label}
          </li>
        ))}
      </ol>
      {tl.peaks ? <Replay sid={tl.callSid} /> : null}
    </div>
  );
}

/**
 * Replay with other settings: the recording's caller channel through the VAD and turn detector again, with two
 * silence / threshold settings side by side — where each turn would have ended and how long after the caller
 * stopped.
 */
function Replay(props: { sid: string }) {
  const [a, setA] = useState({ silenceMs: '300', threshold: '0.5' });
  const [b, setB] = useState({ silenceMs: '800', threshold: '0.5' });
  const [results, setResults] = useState<ReplayView[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const run = async () => {
    setBusy(true);
    setError(null);
    try {
      const variants = [a, b].map((v) => ({ silenceMs: Number(v.silenceMs), threshold: Number(v.threshold) }));
      setResults((await call('records.replay', { sid: props.sid, variants })).results);
    } catch (err) {
      setResults(null);
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };
  const inputs = (label: string, v: typeof a, set: (v: typeof a) => void) => (
    <fieldset class="replay-set">
      <legend>{label}</legend>
      <label>
        Silence (ms) <input type="number" min={50} max={5000} step={50} value={v.silenceMs} onInput={(e) => set({ ...v, silenceMs: (e.currentTarget as HTMLInputElement).value })} />
      </label>
      <label>
        Threshold <input type="number" min={0.05} max={0.95} step={0.05} value={v.threshold} onInput={(e) => set({ ...v, threshold: (e.currentTarget as HTMLInputElement).value })} />
      </label>
    </fieldset>
  );
  return (
    <details class="replay">
      <summary>Replay with other settings</summary>
      <div class="replay-form">
        {inputs('Settings A', a, setA)}
        {inputs('Settings B', b, setB)}
        <button type="button" class="btn primary" disabled={busy} aria-busy={busy} onClick={() => void run()}>
          {busy ? 'Replaying…' : 'Replay'}
        </button>
      </div>
      {error ? (
        <p class="error-text small" role="alert">
          {error}
        </p>
      ) : null}
      {results ? (
        <div class="replay-results">
          {results.map((r, i) => (
            <table class="replay-table small" key={i} data-variant={i}>
              <caption>
                {i === 0 ? 'A' : 'B'}: silence {r.settings.silenceMs} ms, threshold {r.settings.threshold} — {r.turns.length} turn{r.turns.length === 1 ? '' : 's'}
              </caption>
              <thead>
                <tr>
                  <th scope="col">Speech</th>
                  <th scope="col">Turn ended</th>
                  <th scope="col">Why</th>
                  <th scope="col">After speech</th>
                </tr>
              </thead>
              <tbody>
                {r.turns.map((t, j) => (
                  <tr key={j}>
                    <td>
                      {ms(t.speechStartMs)}–{ms(t.speechEndMs)}
                    </td>
                    <td>{ms(t.endedAtMs)}</td>
                    <td>{t.endedBy}</td>
                    <td>{ms(t.endpointMs)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ))}
        </div>
      ) : null}
    </details>
  );
}
