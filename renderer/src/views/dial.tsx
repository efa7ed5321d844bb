/** Dial: a number field (E.164, checked as you type it in), a pad and the persona who speaks; the core's answer
 * (rate limit, not configured, Twilio's refusal) is shown as it says it. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { numberProblem, normalizeNumber } from '../../../main/shared/contract.ts';
import { toast, versions } from '../app-state.ts';
import { call, IpcFailure, messageOf } from '../bridge.ts';
import { ErrorBox, Field } from '../components/ui.tsx';
import { useStore } from '../store.ts';

const PAD = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '+', '0', '⌫'];

export function DialView(props: { onDialled: (sid: string) => void }) {
  const [number, setNumber] = useState('');
  const [touched, setTouched] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [callerId, setCallerId] = useState<string>('');
  const [personas, setPersonas] = useState<string[]>([]);
  const [persona, setPersona] = useState('');
  const input = useRef<HTMLInputElement>(null);
  const v = useStore(versions).config;

  useEffect(() => {
    call('settings.get').then((s) => setCallerId(String(s.values.twilioPhoneNumber ?? '')), () => {});
    call('personas.list').then(
      (r) => {
        const names = r.personas.map((p) => p.name);
        setPersonas(names);
        // Keep the choice while it still exists; else the default (first) persona.
        setPersona((chosen) => (names.includes(chosen) ? chosen : (names[0] ?? '')));
      },
      () => {},
    );
  }, [v]);

  const problem = touched ? numberProblem(number) : null;
  const press = (key: string) => {
    setNumber((n) => (key === '⌫' ? n.slice(0, -1) : n + key));
    setTouched(false);
    setError(null);
    input.current?.focus();
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    setTouched(true);
    setError(null);
    if (numberProblem(number)) {
      input.current?.focus();
      return;
    }
    setBusy(true);
    try {
      const to = normalizeNumber(number);
      const { callSid } = await call('calls.dial', persona ? { to, persona } : { to });
      toast(`Calling ${to}${persona && personas.length > 1 ? ` as ${persona}` : ''}…`);
      props.onDialled(callSid);
    } catch (err) {
      const retry = err instanceof IpcFailure && typeof err.details?.retryAfterSec === 'number' ? ` Try again in ${err.details.retryAfterSec} s.` : '';
      setError(messageOf(err) + retry);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="dial" aria-labelledby="dial-h">
      <h2 id="dial-h">Call a number</h2>
      <form onSubmit={submit} noValidate>
        <Field
          label="Number to call"
          hint={callerId ? `International format (E.164). The call comes from ${callerId}.` : 'International format (E.164), e.g. +15551234567. Set your Twilio number in Settings.'}
          error={problem ?? undefined}
        >
          {({ id, describedBy, invalid }) => (
            <input
              id={id}
              ref={input}
              class="number-input"
              type="tel"
              inputMode="tel"
              autoComplete="off"
              placeholder="+1 555 123 4567"
              value={number}
              aria-describedby={describedBy}
              aria-invalid={invalid}
              onInput={(e) => {
                setNumber((e.target as HTMLInputElement).value);
                setError(null);
              }}
              onBlur={(e) => {
                // Moving to the pad is still typing the number: judge it when the person leaves the form.
                const next = e.relatedTarget as HTMLElement | null;
                if (number && !next?.closest('.pad')) setTouched(true);
              }}
            />
          )}
        </Field>
        <div class="pad" role="group" aria-label="Dial pad">
          {PAD.map((k) => (
            <button type="button" key={k} class="pad-key" onClick={() => press(k)} aria-label={k === '⌫' ? 'Delete last digit' : k === '+' ? 'Plus' : k}>
              {k}
            </button>
          ))}
        </div>
        {personas.length > 0 ? (
          <Field label="Persona" hint="Who speaks on the call: its greeting, prompt, voice and tools (Personas view).">
            {({ id, describedBy }) => (
              <select id={id} name="persona" value={persona} aria-describedby={describedBy} onChange={(e) => setPersona((e.target as HTMLSelectElement).value)}>
                {personas.map((name, i) => (
                  <option key={name} value={name}>
                    {i === 0 ? `${name} (default)` : name}
                  </option>
                ))}
              </select>
            )}
          </Field>
        ) : null}
        <button type="submit" class="btn primary call-btn" disabled={busy} aria-busy={busy}>
          {busy ? 'Calling…' : 'Call'}
        </button>
        <ErrorBox error={error} title="Could not call:" />
      </form>
    </section>
  );
}
