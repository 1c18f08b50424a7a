// Pending snapshots (任务快照): runs waiting for a worker, or handed to one that has not
// started them yet; each can be looked at, or deleted so it never runs.

import { api, seg } from '../api.js';
import {
  actionButton, badge, button, confirmAction, fill, filters, h, link, notify, pageHeader, showDetails,
  showError, table,
} from '../dom.js';
import { time } from '../format.js';
import { t } from '../i18n.js';
import { GROUPS_LIST, groupNames, keepInHash } from './shared.js';

export function snapshotsPage(route) {
  let params = { ...route.params };
  const body = h('div', {});
  const el = h('section', { 'data-test': 'page-snapshots' },
    pageHeader(t('nav.snapshots'), actionButton(t('action.refresh'), () => load())),
    h('p', { class: 'hint' }, t('snap.help')),
    groupNames(),
    filters([
      { name: 'group', label: t('worker.group'), type: 'search', value: params.group, list: GROUPS_LIST },
      { name: 'worker', label: t('snap.worker'), type: 'search', value: params.worker },
    ], (v) => {
      params = v;
      load().catch(showError);
    }),
    body);

  const columns = [
    { label: 'snap.state', cell: (s) => badge(t(`snap.state.${s.state}`), s.state === 'waiting' ? 'warn' : 'info'), test: 'state' },
    { label: 'snap.id', cell: (s) => h('code', { class: 'id', title: s.id }, s.id) },
    { label: 'snap.job', cell: (s) => link(`#/jobs/${seg(s.jobId)}`, s.name || s.jobId) },
    { label: 'worker.group', cell: (s) => s.group },
    { label: 'snap.worker', cell: (s) => s.ip || '—' },
    { label: 'snap.scheduledAt', cell: (s) => time(s.scheduledAt) },
    { label: 'snap.createTime', cell: (s) => time(s.createTime) },
    { label: 'snap.attempt', cell: (s) => s.attempt || '—' },
    { label: 'common.actions', cell: (s) => h('div', { class: 'row-actions' },
        button(t('action.view'), () => showDetails(s.id, s), { 'data-test': 'view' }),
        actionButton(t('action.delete'), async () => {
          if (!(await confirmAction(t('snap.confirmDelete', { id: s.id })))) return;
          await api.del(`/snapshots/${seg(s.group)}/${seg(s.id)}`);
          notify(t('snap.deleted'));
          await load();
        }, { class: 'danger', 'data-test': 'delete' })) },
  ];

  async function load() {
    keepInHash(params);
    const r = await api.get('/snapshots', params);
    fill(body, table(columns, r.items, { key: (s) => s.id, test: 'snapshots' }));
  }

  return { el, load, events: { snapshot: true, run: true } };
}
