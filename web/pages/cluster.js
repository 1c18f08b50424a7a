// The cluster (调度集群): the nodes of the Raft group, who leads, and how far each has got.

import { api } from '../api.js';
import { actionButton, badge, facts, fill, h, pageHeader, showError, table } from '../dom.js';
import { label } from '../format.js';
import { t } from '../i18n.js';

/** Indexes move with every write and no event says so: the page asks again this often. */
const POLL_MS = 5000;

const ROLE_KIND = { leader: 'ok', follower: 'info', learner: 'muted', candidate: 'warn', unreachable: 'bad' };

const columns = [
  { label: 'cluster.id', cell: (m) => m.id },
  { label: 'cluster.name', cell: (m) => m.name },
  { label: 'cluster.addr', cell: (m) => h('code', {}, m.addr) },
  { label: 'cluster.role', cell: (m) => badge(label('role', m.role), ROLE_KIND[m.role] || 'muted'), test: 'role' },
  { label: 'cluster.term', cell: (m) => m.term },
  { label: 'cluster.lastLogIndex', cell: (m) => m.lastLogIndex },
  { label: 'cluster.appliedIndex', cell: (m) => m.appliedIndex },
  { label: 'cluster.revision', cell: (m) => m.revision },
  { label: 'cluster.error', cell: (m) => m.error || '' },
];

export function clusterPage() {
  const body = h('div', {});
  const el = h('section', { 'data-test': 'page-cluster' },
    pageHeader(t('nav.cluster'), actionButton(t('action.refresh'), () => load())),
    body);
  const timer = setInterval(() => load().catch(showError), POLL_MS);

  async function load() {
    const c = await api.get('/cluster');
    const name = (id) => (c.members.find((m) => m.id === id) || { name: '—' }).name;
    fill(body,
      facts([
        ['cluster.this', `${c.name} (${c.id})`],
        ['cluster.leader', c.leaderId ? `${name(c.leaderId)} (${c.leaderId})` : t('dash.noLeader')],
      ], 'cluster'),
      table(columns, c.members, { key: (m) => m.id, test: 'members' }),
    );
  }

  return { el, load, events: { leader: true }, stop: () => clearInterval(timer) };
}
