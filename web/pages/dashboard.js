// The dashboard: is the cluster healthy, who leads, how many workers, how runs are going.

import { api } from '../api.js';
import { actionButton, card, fill, h, pageHeader, showError, table } from '../dom.js';
import { percent, time } from '../format.js';
import { t } from '../i18n.js';
import { runColumns } from './executions.js';

function health(cluster) {
  const leader = cluster.members.find((m) => m.id === cluster.leaderId);
  const ok = cluster.members.filter((m) => m.role !== 'unreachable' && !m.error).length;
  const all = cluster.members.length;
  const state = !leader ? 'noLeader' : ok < all ? 'degraded' : 'healthy';
  const kind = state === 'healthy' ? 'ok' : state === 'degraded' ? 'warn' : 'bad';
  return card(t('dash.health'),
    h('span', { class: `dot ${kind}` }, t(`dash.${state}`)),
    [t('dash.members', { ok, all }), leader ? h('div', {}, t('dash.leader'), ': ', leader.name) : null],
    { 'data-test': 'card-health' });
}

/** Successes and failures per minute as stacked bars, tallest minute = full height. */
function perMinuteChart(perMinute) {
  const top = Math.max(1, ...perMinute.map((m) => m.successes + m.failures));
  const bars = perMinute.map((m) => {
    const title = `${time(m.minute)}: ${m.successes} ✓ / ${m.failures} ✗`;
    return h('div', { class: 'bar', title },
      h('div', { class: 'bar-fail', style: `height:${(100 * m.failures) / top}%` }),
      h('div', { class: 'bar-ok', style: `height:${(100 * m.successes) / top}%` }));
  });
  const first = perMinute[0];
  const last = perMinute[perMinute.length - 1];
  const hhmm = (m) => (m ? time(m.minute).slice(11, 16) : '');
  return h('figure', { class: 'chart-box', 'data-test': 'per-minute' },
    h('div', { class: 'chart', role: 'img', 'aria-label': t('dash.perMinute') }, h('span', { class: 'chart-top' }, top), bars),
    h('figcaption', { class: 'chart-axis' },
      h('span', {}, hhmm(first)),
      h('span', {}, h('span', { class: 'key ok' }, t('dash.successes')), h('span', { class: 'key bad' }, t('dash.failures'))),
      h('span', {}, hhmm(last))));
}

export function dashboardPage() {
  const body = h('div', {});
  const el = h('section', { 'data-test': 'page-dashboard' },
    pageHeader(t('nav.dashboard'), actionButton(t('action.refresh'), () => load())),
    body);

  async function load() {
    // One missing answer should not blank the other half of the page.
    const [stats, cluster] = await Promise.allSettled([api.get('/stats'), api.get('/cluster')]);
    const cards = [];
    if (cluster.status === 'fulfilled') cards.push(health(cluster.value));
    if (stats.status === 'fulfilled') {
      const s = stats.value;
      cards.push(
        card(t('dash.workers'), s.workersOnline, null, { 'data-test': 'card-workers' }),
        card(t('dash.jobs'), s.jobs, t('dash.jobsPaused', { n: s.jobsPaused }), { 'data-test': 'card-jobs' }),
        card(t('dash.groups'), s.groups, null, { 'data-test': 'card-groups' }),
        card(t('dash.lastHour'), s.lastHour.runs, `✓ ${s.lastHour.successes} · ✗ ${s.lastHour.failures}`, { 'data-test': 'card-runs' }),
        card(t('dash.successRate'), percent(s.lastHour.successes, s.lastHour.successes + s.lastHour.failures), null, { 'data-test': 'card-rate' }),
      );
    }
    fill(body,
      h('div', { class: 'cards' }, cards),
      stats.status === 'fulfilled'
        ? [
            h('h2', {}, t('dash.perMinute')),
            perMinuteChart(stats.value.perMinute),
            h('h2', {}, t('dash.recentFailures')),
            table(runColumns, stats.value.recentFailures, { key: (r) => r.id, test: 'recent-failures', empty: t('dash.noFailures') }),
          ]
        : null,
    );
    const failed = [stats, cluster].find((r) => r.status === 'rejected');
    if (failed) showError(failed.reason);
  }

  return { el, load, events: { run: true, worker: true, job: true, leader: true } };
}
