/**
 * Per-turn latency: end of the caller's speech → first agent audio (voice-to-voice) and its parts, as a small
 * uPlot chart with the same numbers in a table beneath (for screen readers and exact values).
 */
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { TurnMetrics } from '../../../main/shared/contract.ts';
import { ms } from '../format.ts';

export interface LatencyRow {
  turnId: number;
  metrics: Partial<TurnMetrics>;
}

type MsKey = 'voiceToVoiceMs' | 'sttMs' | 'llmFirstTokenMs' | 'ttsFirstAudioMs';

const SERIES: { key: MsKey; label: string; color: string; width: number }[] = [
  { key: 'voiceToVoiceMs', label: 'Voice to voice', color: '#3451b2', width: 2.5 },
  { key: 'sttMs', label: 'Speech-to-text', color: '#1f9d6b', width: 1.5 },
  { key: 'llmFirstTokenMs', label: 'LLM first token', color: '#c2410c', width: 1.5 },
  { key: 'ttsFirstAudioMs', label: 'TTS first audio', color: '#8b5cf6', width: 1.5 },
];

export function LatencyChart(props: { rows: LatencyRow[] }) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const rows = props.rows.filter((r) => r.metrics && Object.values(r.metrics).some((v) => typeof v === 'number'));
  const data: uPlot.AlignedData = [rows.map((r) => r.turnId), ...SERIES.map((s) => rows.map((r) => (r.metrics[s.key] ?? null) as number | null))];

  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const width = () => Math.max(280, el.clientWidth);
    const u = new uPlot(
      {
        width: width(),
        height: 170,
        scales: { x: { time: false } },
        axes: [
          { label: 'Turn', size: 36, incrs: [1, 2, 5, 10, 20, 50] },
          { label: 'ms', size: 56 },
        ],
        series: [{ label: 'Turn' }, ...SERIES.map((s) => ({ label: s.label, stroke: s.color, width: s.width, points: { size: 6 }, spanGaps: true }))],
        legend: { show: true, live: false },
        cursor: { drag: { x: false, y: false } },
      },
      data,
      el,
    );
    plot.current = u;
    const ro = new ResizeObserver(() => u.setSize({ width: width(), height: 170 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, []);

  useEffect(() => {
    plot.current?.setData(data);
  });

  return (
    <figure class="latency">
      <figcaption>Latency per turn</figcaption>
      <div ref={host} class={`chart${rows.length ? '' : ' empty'}`} aria-hidden="true" />
      {rows.length === 0 ? <p class="muted">No finished turns yet: latencies appear after the agent's first reply to the caller.</p> : null}
      {rows.length > 0 ? (
        <table class="latency-table">
          <thead>
            <tr>
              <th scope="col">Turn</th>
              {SERIES.map((s) => (
                <th scope="col" key={s.key}>
                  {s.label}
                </th>
              ))}
              <th scope="col">Turn ended by</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.turnId}>
                <th scope="row">{r.turnId}</th>
                {SERIES.map((s) => (
                  <td key={s.key}>{ms(r.metrics[s.key])}</td>
                ))}
                <td class="ended-by">{endedBy(r.metrics)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </figure>
  );
}

/** How the caller's turn ended, as the table shows it: "turn model (0.93, 41 ms)", "silence", "max length". */
export function endedBy(m: Partial<TurnMetrics>): string {
  const prepared = m.preemptive ? ' · prepared reply' : '';
  if (m.endedBy === 'turn-model') {
    const p = typeof m.turnProbability === 'number' ? m.turnProbability.toFixed(2) : '?';
    return `turn model (${p}${typeof m.turnModelMs === 'number' ? `, ${ms(m.turnModelMs)}` : ''})${prepared}`;
  }
  if (m.endedBy === 'max-length') return `max length${prepared}`;
  if (m.endedBy === 'silence') {
    const held = typeof m.turnProbability === 'number' ? ` (turn model ${m.turnProbability.toFixed(2)})` : '';
    return `silence${held}${prepared}`;
  }
  return '—';
}
