/** Plugins: the active plugin of each kind, the others that could take its place, and anything broken — live,
 * so a folder dropped into the plugins folder shows up here by itself. */
import { useEffect, useState } from 'preact/hooks';
import type { Channels, PluginInfo, PluginKind } from '../../../main/shared/contract.ts';
import { toast, versions } from '../app-state.ts';
import { call, messageOf } from '../bridge.ts';
import { ActionButton, ErrorBox } from '../components/ui.tsx';
import { useStore } from '../store.ts';

const KINDS: { kind: PluginKind; title: string }[] = [
  { kind: 'stt', title: 'Speech-to-text' },
  { kind: 'llm', title: 'Language model' },
  { kind: 'tts', title: 'Text-to-speech' },
  { kind: 'turn', title: 'Turn model' },
];

/** Kinds a call can do without: none active is a choice, not a problem. */
const OPTIONAL_KINDS: readonly PluginKind[] = ['turn'];

const STATUS_TEXT: Record<PluginInfo['status'], string> = {
  loaded: 'Ready to start',
  starting: 'Starting…',
  ready: 'Running',
  failed: 'Failed to start',
  broken: 'Broken',
};

type List = Channels['plugins.list']['response'];

export function PluginsView() {
  const v = useStore(versions).plugins;
  const [data, setData] = useState<List | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [folderNote, setFolderNote] = useState<string | null>(null);

  useEffect(() => {
    call('plugins.list').then(
      (d) => {
        setData(d);
        setError(null);
      },
      (err) => setError(messageOf(err)),
    );
  }, [v]);

  return (
    <section aria-labelledby="plugins-h">
      <div class="view-head">
        <h2 id="plugins-h">Plugins</h2>
        <div class="toolbar">
          <ActionButton
            onAction={async () => {
              const r = await call('plugins.openFolder');
              setFolderNote(r.opened ? null : `Your plugins folder is ${r.path} — open it in your file manager and drop a plugin folder in.`);
            }}
          >
            Open plugins folder
          </ActionButton>
          <ActionButton onAction={async () => (await call('plugins.rescan'), toast('Plugins folder scanned.'))}>Rescan</ActionButton>
        </div>
      </div>
      <p class="muted">
        A plugin is a folder with a <code>manifest.json</code>. Drop one into <code>{data?.userDir ?? 'your plugins folder'}</code> and it appears here
        without a restart. Calls in progress keep the plugin they started with.
      </p>
      <p class="note plugin-trust">
        A plugin runs with your full rights on this computer: it can read and change your files and reach the network, like any
        program you run. Parley only runs the built-in plugins and the ones you put in your plugins folder — add only plugins
        you trust.
      </p>
      {folderNote ? <p class="note">{folderNote}</p> : null}
      <ErrorBox error={error} />
      {data?.problems.length ? (
        <div class="error-box" role="alert">
          <strong>Plugin folders that could not be loaded:</strong>
          <ul>
            {data.problems.map((p) => (
              <li key={p.dir}>
                <code>{p.dir}</code>: {p.message}
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      {KINDS.map(({ kind, title }) => {
        const plugins = (data?.plugins ?? []).filter((p) => p.kind === kind);
        const active = plugins.find((p) => p.active);
        const others = plugins.filter((p) => !p.active);
        return (
          <section class="plugin-kind" key={kind} aria-labelledby={`kind-${kind}`}>
            <h3 id={`kind-${kind}`}>{title}</h3>
            {active ? (
              <PluginCard p={active} />
            ) : OPTIONAL_KINDS.includes(kind) ? (
              <p class="muted">None in use: a turn ends after the full silence. (Optional: it lets a turn end sooner.)</p>
            ) : (
              <p class="error-text">No {title.toLowerCase()} plugin is active: calls cannot be answered until one is.</p>
            )}
            {others.length > 0 ? (
              <ul class="plugin-others" aria-label={`Other ${title.toLowerCase()} plugins`}>
                {others.map((p) => (
                  <li key={p.name}>
                    <PluginCard p={p} />
                  </li>
                ))}
              </ul>
            ) : null}
          </section>
        );
      })}
      <ToolPlugins plugins={(data?.plugins ?? []).filter((p) => p.kind === 'tool')} />
    </section>
  );
}

/** Tool plugins: all of them are active at once; each card lists the tools it offers the agent. */
function ToolPlugins(props: { plugins: PluginInfo[] }) {
  return (
    <section class="plugin-kind" aria-labelledby="kind-tool">
      <h3 id="kind-tool">Tools</h3>
      {props.plugins.length === 0 ? (
        <p class="muted">No tool plugins: the agent can only talk. Drop a tool plugin folder into your plugins folder to give it tools.</p>
      ) : (
        <ul class="plugin-others" aria-label="Tool plugins">
          {props.plugins.map((p) => (
            <li key={p.name}>
              <PluginCard p={p} />
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function ToolList(props: { p: PluginInfo }) {
  const tools = props.p.tools;
  if (!tools) return <p class="small muted">Its tools are listed once it has started.</p>;
  if (tools.length === 0) return <p class="small muted">It offers no tools.</p>;
  return (
    <ul class="tool-list small" aria-label={`Tools of ${props.p.name}`}>
      {tools.map((t) => (
        <li key={t.name} data-tool={t.name}>
          <code>{t.name}</code> — {t.description}
          {t.offered ? null : <span class="tag">not offered (--tools)</span>}
        </li>
      ))}
    </ul>
  );
}

function PluginCard(props: { p: PluginInfo }) {
  const p = props.p;
  return (
    <div class={`plugin-card${p.active ? ' active' : ''}`} data-plugin={p.name}>
      <div class="plugin-title">
        <strong>{p.name}</strong> <span class="muted small">v{p.version}</span>
        {p.source === 'user' ? <span class="tag">your folder</span> : <span class="tag">built-in</span>}
        {p.active ? <span class="tag active">active</span> : null}
        <span class={`status s-${p.status}`}>{STATUS_TEXT[p.status]}</span>
      </div>
      <p class="small">{p.description}</p>
      <p class="small muted plugin-dir">
        Folder: <code>{p.dir}</code>
      </p>
      {p.kind === 'tool' ? <ToolList p={p} /> : null}
      {p.error ? (
        <p class="error-text small" role="alert">
          {p.error}
        </p>
      ) : null}
      {!p.active && p.kind !== 'tool' ? (
        <ActionButton
          disabled={p.status === 'broken'}
          onAction={async () => {
            await call('plugins.setActive', { kind: p.kind, name: p.name });
            toast(`${p.name} is now used for new calls.`);
          }}
        >
          Use for new calls
        </ActionButton>
      ) : null}
    </div>
  );
}
