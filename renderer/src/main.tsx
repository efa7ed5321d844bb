import { render } from 'preact';
import { App } from './app.tsx';
import { startSync } from './app-state.ts';
import './styles.css';

startSync();
render(<App />, document.getElementById('app')!);
