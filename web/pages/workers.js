// Workers (任务节点): the processes connected to run jobs, and what each is running.

import { api, seg } from '../api.js';
import { actionButton, badge, fill, filters, h, link, pageHeader, showError, table } from '../dom.js';
import { time } from '../format.js';
import { t } from '../i18n.js';
import { GROUPS_LIST, groupNames, keepInHash } from './shared.js';

const columns = [
  { label: 'worker.group', cell: (w) => w.group },
  { label: 'worker.name', cell: (w) => [w.name, w.legacy ? [' ', badge(t('worker.legacy'), 'muted')] : null], test: 'name' },
  { label: 'worker.node', cell: (w) => w.node || '—' },
  { label: 'worker.capacity', cell: (w) => w.capacity },
  { label: 'worker.running', cell: (w) => h('span', { title: w.running.join('\n') },
      w.running.length ? link(`#/executions?worker=${seg(w.name)}&status=1`, String(w.running.length)) : '0') },
  { label: 'worker.targets', cell: (w) => (w.targets || []).join(', ') || '—' },
  { label: 'worker.labels', cell: (w) => Object.entries(w.labels || {}).map(([k, v]) => badge(`${k}=${v}`, 'muted')) },
  { label: 'worker.version', cell: (w) => w.version },
  { label: 'worker.connectedAt', cell: (w) => time(w.connectedAt) },
];

export function workersPage(route) {
  let params = { ...route.params };
  const body = h('div', {});
  const el = h('section', { 'data-test': 'page-workers' },
    pageHeader(t('nav.workers'), actionButton(t('action.refresh'), () => load())),
    groupNames(),
    filters([{ name: 'group', label: t('worker.group'), type: 'search', value: params.group, list: GROUPS_LIST }],
      (v) => {
        params = v;
        load().catch(showError);
      }),
    body);

  async function load() {
    keepInHash(params);
    const r = await api.get('/workers', params);
    fill(body, table(columns, r.items, { key: (w) => `${w.group}/${w.name}`, test: 'workers' }));
  }

  return { el, load, events: { worker: true, run: true } };
}
