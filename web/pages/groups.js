// Groups (集群配置): the groups jobs and workers belong to, and a form to add one.

import { api, seg } from '../api.js';
import { actionButton, fill, form, h, link, notify, pageHeader, table } from '../dom.js';
import { t } from '../i18n.js';

export function groupsPage() {
  const list = h('div', {});
  const add = form({
    test: 'group-form',
    submitLabel: t('action.add'),
    fields: [
      { name: 'name', label: t('group.name'), required: true },
      { name: 'remark', label: t('group.remark') },
    ],
    onSubmit: async (v) => {
      const g = await api.post('/groups', v);
      add.reset();
      notify(t('group.created', { name: g.name }));
      await load();
    },
  });
  const el = h('section', { 'data-test': 'page-groups' },
    pageHeader(t('nav.groups'), actionButton(t('action.refresh'), () => load())),
    h('h2', {}, t('group.new')),
    add,
    list);

  const columns = [
    { label: 'group.name', cell: (g) => g.name, test: 'name' },
    { label: 'group.remark', cell: (g) => g.remark },
    { label: 'common.actions', cell: (g) => h('div', { class: 'row-actions' },
        link(`#/jobs?group=${seg(g.name)}`, t('group.jobs')),
        link(`#/workers?group=${seg(g.name)}`, t('group.workers'))) },
  ];

  async function load() {
    const r = await api.get('/groups');
    fill(list, table(columns, r.items, { key: (g) => g.name, test: 'groups' }));
  }

  return { el, load };
}
