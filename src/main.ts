import { mount } from 'svelte';
import App from './App.svelte';
import { DeviceState } from './state/device.svelte.ts';
import { JobState } from './state/job.svelte.ts';
import { LocalModelState } from './state/local-model.svelte.ts';
import { SettingsState } from './state/settings.svelte.ts';
import { StoreState } from './state/store.svelte.ts';
import { WorkerClient } from './worker-client.ts';
import './app.css';

const client = new WorkerClient();

// Diagnostics for tests and bug reports: lose the GPU device as a driver reset would.
(globalThis as { sdWeb?: unknown }).sdWeb = { loseDevice: () => client.loseDevice() };

mount(App, {
  target: document.getElementById('app') as HTMLElement,
  props: {
    client,
    settings: SettingsState.fromQuery(location.search),
    job: new JobState(client),
    device: new DeviceState(),
    store: new StoreState(client),
    localModel: new LocalModelState(client),
  },
});

// The service worker caches the app shell, so a stored model generates offline. Only in builds:
// under the dev server it would serve stale modules.
if (import.meta.env.PROD && 'serviceWorker' in navigator) {
  navigator.serviceWorker.register('./sw.js').catch((e: unknown) => {
    console.warn('Service worker registration failed; the page will not open offline.', e);
  });
}
