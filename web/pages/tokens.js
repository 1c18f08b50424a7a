// API tokens (访问令牌), for administrators: who may use the API and this UI, in which role and
// for which groups. A new token's text is shown once, here: the server keeps only its hash.

import { api, seg } from '../api.js';
import { actionButton, badge, confirmAction, fill, form, h, notify, pageHeader, table } from '../dom.js';
import { label, rfc3339, time } from '../format.js';
import { t } from '../i18n.js';

const ROLES = ['viewer', 'operator', 'admin', 'worker'];
const ROLE_KIND = { viewer: 'ok', operator: 'info', admin: 'warn', worker: 'muted' };

function expiry(tok) {
  if (!tok.expiresAt) return t('token.never');
  const when = time(tok.expiresAt);
  return Date.parse(tok.expiresAt) <= Date.now() ? [when, ' ', badge(t('token.expired'), 'bad')] : when;
}

/** Selects the token's text and copies it. */
async function copy(input) {
  input.select();
  // The clipboard API exists only on https and localhost; elsewhere the selection is copied.
  if (navigator.clipboard) await navigator.clipboard.writeText(input.value);
  else document.execCommand('copy');
  notify(t('token.copied'));
}

/** The token just made, its text with a copy button and the warning that it goes for good. */
function shownOnce(made) {
  const text = h('input', { class: 'token-text', readonly: true, value: made.token, 'aria-label': t('token.token'),
    'data-test': 'new-token-text' });
  return h('div', { class: 'message warn', 'data-test': 'new-token', role: 'status' },
    h('strong', {}, t('token.created', { name: made.name || made.id })),
    h('p', {}, t('token.once')),
    h('div', { class: 'token-copy' }, text, actionButton(t('token.copy'), () => copy(text), { 'data-test': 'copy' })));
}

export function tokensPage() {
  const list = h('div', {});
  const created = h('div', {});
  const add = form({
    test: 'token-form',
    submitLabel: t('action.create'),
    fields: [
      { name: 'name', label: t('token.name'), placeholder: t('token.namePlaceholder') },
      { name: 'role', label: t('token.role'), type: 'select', value: 'viewer',
        options: ROLES.map((r) => [r, label('token.role', r)]), help: t('token.roleHelp') },
      { name: 'groups', label: t('token.groups'), placeholder: 'ops, etl', help: t('token.groupsHelp') },
      { name: 'expiresAt', label: t('token.expiresAt'), type: 'datetime-local', help: t('token.expiresHelp') },
    ],
    onSubmit: async (v) => {
      const made = await api.post('/tokens', {
        name: v.name,
        role: v.role,
        groups: v.groups.split(/[\s,]+/).filter(Boolean),
        expiresAt: rfc3339(v.expiresAt) || undefined,
      });
      add.reset();
      fill(created, shownOnce(made));
      await load();
    },
  });
  const el = h('section', { 'data-test': 'page-tokens' },
    pageHeader(t('nav.tokens'), actionButton(t('action.refresh'), () => load())),
    h('p', { class: 'hint' }, t('token.intro')),
    h('h2', {}, t('token.new')),
    add,
    created,
    list);

  const columns = [
    { label: 'token.id', cell: (k) => h('code', {}, k.id) },
    { label: 'token.name', cell: (k) => k.name, test: 'name' },
    { label: 'token.role', cell: (k) => badge(label('token.role', k.role), ROLE_KIND[k.role] || 'muted'), test: 'role' },
    { label: 'token.groups', cell: (k) => (k.groups.length ? k.groups.map((g) => badge(g, 'muted')) : t('token.allGroups')) },
    { label: 'token.createdAt', cell: (k) => time(k.createdAt) },
    { label: 'token.expiresAt', cell: expiry },
    { label: 'common.actions', cell: (k) => actionButton(t('token.revoke'), async () => {
        if (!(await confirmAction(t('token.confirmRevoke', { name: k.name || k.id, id: k.id })))) return;
        await api.del(`/tokens/${seg(k.id)}`);
        notify(t('token.revoked'));
        await load();
      }, { class: 'danger', 'data-test': 'revoke' }) },
  ];

  async function load() {
    const r = await api.get('/tokens');
    fill(list, table(columns, r.items, { key: (k) => k.id, test: 'tokens' }));
  }

  return { el, load };
}
