/**
 * Get started: the first-run checklist. Each step's state comes from the core's setup doctor (`status.doctor`),
 * the model catalogue (`models.list`, downloads over the same `models.pull` / `model.progress` path as the
 * Models view) and the call records (a call to your number has been kept).
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { DoctorCheck, DoctorReport, ModelInfo } from '../../../main/shared/contract.ts';
import { progress, versions } from '../app-state.ts';
import { call, messageOf } from '../bridge.ts';
import { TestCallButton } from '../components/test-call.tsx';
import { ActionButton, Dot, ErrorBox } from '../components/ui.tsx';
import { bytes } from '../format.ts';
import { useStore } from '../store.ts';

type StepState = 'done' | 'todo' | 'checking' | 'optional';
const STATE_LABEL: Record<StepState, string> = { done: 'Done', todo: 'To do', checking: 'Checking…', optional: 'Try it' };

function checkOf(d: DoctorReport | null, id: string): DoctorCheck | undefined {
  return d?.checks.find((c) => c.id === id);
}

/** All given checks passed → done; any failed or skipped → to do; no report yet → checking. */
function stateOf(d: DoctorReport | null, ids: string[], any = false): StepState {
  if (!d) return 'checking';
  const cs = ids.map((id) => checkOf(d, id)).filter((c): c is DoctorCheck => c !== undefined);
  if (cs.length === 0) return 'todo';
  return (any ? cs.some((c) => c.ok === true) : cs.every((c) => c.ok === true)) ? 'done' : 'todo';
}

function Step(props: { n: number; id: string; title: string; state: StepState; children: ComponentChildren }) {
  return (
    <li class={`gs-step gs-${props.state}`} data-step={props.id} data-state={props.state}>
      <h3>
        <Dot ok={props.state === 'done' ? true : props.state === 'todo' ? false : null} /> {props.n}. {props.title}{' '}
        <span class="gs-state small muted">{STATE_LABEL[props.state]}</span>
      </h3>
      <div class="gs-body">{props.children}</div>
    </li>
  );
}

function Detail(props: { check: DoctorCheck | undefined }) {
  const c = props.check;
  if (!c) return null;
  return (
    <>
      <p class="small">{c.detail}</p>
      {c.ok !== true && c.fix ? <p class="small todo">Fix: {c.fix}</p> : null}
    </>
  );
}

export function GetStartedView(props: { onGo: (view: 'calls' | 'settings' | 'models') => void }) {
  const v = useStore(versions);
  const prog = useStore(progress);
  const [doctor, setDoctor] = useState<DoctorReport | null>(null);
  const [models, setModels] = useState<ModelInfo[] | null>(null);
  const [activePlugins, setActivePlugins] = useState<Set<string> | null>(null);
  const [inbound, setInbound] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [rerun, setRerun] = useState(0);

  // A download that ends changes what is on disk: look again.
  const settled = Object.values(prog).filter((p) => p.state !== 'downloading' && p.state !== 'verifying').map((p) => `${p.modelId}:${p.state}:${p.at}`).join();
  useEffect(() => {
    let live = true;
    call('models.list').then((r) => live && setModels(r.models), (err) => live && setError(messageOf(err)));
    call('plugins.list').then((r) => live && setActivePlugins(new Set(r.plugins.filter((p) => p.active).map((p) => p.name))), () => {});
    call('status.doctor').then((r) => live && setDoctor(r), (err) => live && setError(messageOf(err)));
    call('records.list', { direction: 'inbound', limit: 1 }).then((r) => live && setInbound(r.total), () => live && setInbound(null));
    return () => {
      live = false;
    };
  }, [v.plugins, v.config, v.records, settled, rerun]);

  // The default model of each plugin in use (every plugin's default until the plugin list has come).
  const defaults = (models ?? []).filter((m) => m.isDefault && (activePlugins === null || activePlugins.has(m.plugin)));
  const missing = defaults.filter((m) => m.status !== 'installed');
  const missingBytes = missing.reduce((n, m) => n + Math.max(0, (m.size ?? 0) - m.bytesOnDisk), 0);
  const active = defaults.map((m) => prog[m.id]).filter((p) => p !== undefined && (p.state === 'downloading' || p.state === 'verifying'));
  const failed = defaults.map((m) => prog[m.id]).filter((p) => p?.state === 'failed');
  const totalOf = defaults.filter((m) => prog[m.id] && (prog[m.id]!.state === 'downloading' || prog[m.id]!.state === 'verifying'));
  const doneBytes = totalOf.reduce((n, m) => n + (prog[m.id]?.bytes ?? 0), 0);
  const allBytes = totalOf.reduce((n, m) => n + (prog[m.id]?.total ?? m.size ?? 0), 0);

  const modelsCheck = checkOf(doctor, 'models');
  const modelsState: StepState = models === null && !doctor ? 'checking' : missing.length === 0 && (modelsCheck?.ok ?? true) !== false ? 'done' : 'todo';
  const twilio = stateOf(doctor, ['twilio-credentials']);
  const reach = stateOf(doctor, ['tunnel', 'public-url'], true);
  const called: StepState = inbound === null ? 'checking' : inbound > 0 ? 'done' : 'todo';

  return (
    <section aria-labelledby="gs-h" class="get-started">
      <div class="view-head">
        <h2 id="gs-h">Get started</h2>
        <ActionButton busyLabel="Checking…" onAction={async () => setRerun((n) => n + 1)}>
          Check again
        </ActionButton>
      </div>
      <p class="muted">Five steps from a fresh install to the agent answering your phone. Each state comes from the setup check.</p>
      <ErrorBox error={error} />
      <ol class="gs-steps">
        <Step n={1} id="models" title="Download the default models" state={modelsState}>
          {missing.length > 0 ? (
            <p class="small">
              {missing.map((m) => m.id).join(', ')} — <strong class="gs-size">{bytes(missingBytes)}</strong> to download.
            </p>
          ) : models ? (
            <p class="small">{defaults.length ? `All default models are here (${defaults.map((m) => m.id).join(', ')}).` : 'The active plugins need no model.'}</p>
          ) : null}
          {active.length > 0 ? (
            <div class="progress-cell">
              <progress max={allBytes || undefined} value={doneBytes} aria-label="Downloading the default models" />
              <span class="small gs-progress">
                {bytes(doneBytes)}
                {allBytes ? ` of ${bytes(allBytes)}` : ''}
              </span>
            </div>
          ) : null}
          {failed.map((p) => (
            <p class="error-text small" role="alert" key={p!.modelId}>
              {p!.modelId}: {p!.error ?? 'download failed'}
            </p>
          ))}
          <div class="toolbar">
            {active.length > 0 ? (
              <ActionButton onAction={async () => void (await Promise.all(active.map((p) => call('models.cancel', { id: p!.modelId }))))}>Cancel</ActionButton>
            ) : missing.length > 0 ? (
              <ActionButton kind="primary" onAction={async () => void (await Promise.all(missing.map((m) => call('models.pull', { id: m.id }))))}>
                Download default models
              </ActionButton>
            ) : null}
            <button type="button" class="btn plain" onClick={() => props.onGo('models')}>
              Open Models
            </button>
          </div>
          {modelsState !== 'done' ? <Detail check={modelsCheck} /> : null}
        </Step>
        <Step n={2} id="test-call" title="Try a test call" state="optional">
          <TestCallButton />
        </Step>
        <Step n={3} id="twilio" title="Connect Twilio: credentials and number" state={twilio}>
          <Detail check={checkOf(doctor, 'twilio-credentials')} />
          <Detail check={checkOf(doctor, 'twilio-number')} />
          <button type="button" class="btn plain" onClick={() => props.onGo('settings')}>
            Open Settings
          </button>
        </Step>
        <Step n={4} id="reachable" title="Make Parley reachable: ngrok token or public URL" state={reach}>
          <Detail check={checkOf(doctor, 'tunnel')} />
          <Detail check={checkOf(doctor, 'public-url')} />
          <button type="button" class="btn plain" onClick={() => props.onGo('settings')}>
            Open Settings
          </button>
        </Step>
        <Step n={5} id="call" title="Call your number" state={called}>
          <p class="small">{called === 'done' ? 'A call to your number has been answered and kept in History.' : 'Call your Twilio number from any phone: the agent answers, and the call shows in Calls.'}</p>
        </Step>
      </ol>
    </section>
  );
}
