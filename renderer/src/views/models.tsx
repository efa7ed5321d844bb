/** Models: what each plugin can use, what is on disk, downloads with live progress (cancel keeps what was
 * downloaded; download again resumes), verification against the published checksums. */
import { useEffect, useState } from 'preact/hooks';
import type { ModelInfo } from '../../../main/shared/contract.ts';
import { progress, toast, versions, type ModelProgress } from '../app-state.ts';
import { call, messageOf } from '../bridge.ts';
import { ActionButton, ErrorBox } from '../components/ui.tsx';
import { bytes, eta } from '../format.ts';
import { useStore } from '../store.ts';

const KIND: Record<string, string> = { stt: 'Speech-to-text', llm: 'Language model', tts: 'Voice' };

export function ModelsView() {
  const v = useStore(versions).plugins;
  const prog = useStore(progress);
  const [models, setModels] = useState<ModelInfo[] | null>(null);
  const [dir, setDir] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [refresh, setRefresh] = useState(0);

  // A download that finishes, fails or is cancelled changes what is on disk.
  const settled = Object.values(prog).filter((p) => p.state !== 'downloading' && p.state !== 'verifying').map((p) => `${p.modelId}:${p.state}:${p.at}`).join();
  useEffect(() => {
    call('models.list').then(
      (r) => {
        setModels(r.models);
        setDir(r.modelsDir);
        setError(null);
      },
      (err) => setError(messageOf(err)),
    );
  }, [v, settled, refresh]);

  return (
    <section aria-labelledby="models-h">
      <div class="view-head">
        <h2 id="models-h">Models</h2>
      </div>
      <p class="muted">
        Models the installed plugins can use. They are kept in <code>{dir || 'the models folder'}</code>.
      </p>
      <ErrorBox error={error} />
      {models && models.length === 0 ? <p>No plugin lists a downloadable model.</p> : null}
      {models && models.length > 0 ? (
        <table class="models">
          <thead>
            <tr>
              <th scope="col">Model</th>
              <th scope="col">For</th>
              <th scope="col">Size</th>
              <th scope="col">State</th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {models.map((m) => (
              <ModelRow key={m.id} m={m} p={prog[m.id]} onChanged={() => setRefresh((n) => n + 1)} />
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}

function ModelRow(props: { m: ModelInfo; p: ModelProgress | undefined; onChanged: () => void }) {
  const { m, p } = props;
  const active = p !== undefined && (p.state === 'downloading' || p.state === 'verifying');
  const failed = p?.state === 'failed' ? p.error ?? 'Download failed.' : null;
  return (
    <tr data-model={m.id}>
      <th scope="row">
        <span class="model-id">{m.id}</span>
        {m.isDefault ? <span class="tag">default</span> : null}
        {m.description ? <div class="small muted">{m.description}</div> : null}
      </th>
      <td>
        {KIND[m.kind] ?? m.kind}
        <div class="small muted">{m.plugin}</div>
      </td>
      <td>{bytes(m.size)}</td>
      <td class="model-state">
        {active && p ? (
          <div class="progress-cell">
            <progress max={p.total ?? undefined} value={p.bytes} aria-label={`${p.state === 'verifying' ? 'Verifying' : 'Downloading'} ${m.id}`} />
            <span class="small">
              {p.state === 'verifying' ? 'Verifying ' : ''}
              {bytes(p.bytes)}
              {p.total ? ` of ${bytes(p.total)}` : ''}
              {p.rate ? ` · ${bytes(p.rate)}/s` : ''}
              {p.etaSec !== null ? ` · ${eta(p.etaSec)}` : ''}
            </span>
          </div>
        ) : (
          <span class={`mstate m-${m.status}`}>
            {m.status === 'installed' ? (m.verified === false ? 'Installed, damaged' : m.verified ? 'Installed, verified' : 'Installed') : m.status === 'partial' ? `Partly downloaded (${bytes(m.bytesOnDisk)})` : 'Not downloaded'}
          </span>
        )}
        {failed && !active ? (
          <p class="error-text small" role="alert">
            {failed}
          </p>
        ) : null}
      </td>
      <td class="actions">
        {active && p?.state === 'downloading' ? (
          <ActionButton onAction={async () => (await call('models.cancel', { id: m.id }), props.onChanged())}>Cancel</ActionButton>
        ) : m.status !== 'installed' ? (
          <ActionButton kind="primary" onAction={() => call('models.pull', { id: m.id })}>
            {m.status === 'partial' ? 'Resume download' : 'Download'}
          </ActionButton>
        ) : (
          <>
            <ActionButton
              busyLabel="Verifying…"
              onAction={async () => {
                const r = await call('models.verify', { id: m.id });
                toast(r.ok ? `${m.id} is intact.` : r.error?.message ?? `${m.id} did not verify.`, r.ok ? 'info' : 'error');
                props.onChanged();
              }}
            >
              Verify
            </ActionButton>
            <ActionButton
              onAction={async () => {
                await call('models.remove', { id: m.id });
                toast(`${m.id} removed.`);
                props.onChanged();
              }}
            >
              Remove
            </ActionButton>
          </>
        )}
      </td>
    </tr>
  );
}
