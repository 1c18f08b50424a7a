// Jobs (任务配置): the searchable list, and one job with its schedule, statistics and runs.

import { api, seg } from '../api.js';
import {
  actionButton, card, confirmAction, facts, fill, filters, h, link, notify, options, pageHeader, pager,
  showError, table,
} from '../dom.js';
import { duration, jobStatus, label, percent, time } from '../format.js';
import { t } from '../i18n.js';
import { runColumns } from './executions.js';
import { GROUPS_LIST, groupNames, keepInHash } from './shared.js';

/** Run now, pause or resume, edit, delete; `changed()` after a change, `deleted()` after a delete. */
function jobActions(job, changed, deleted) {
  const path = `/jobs/${seg(job.id)}`;
  const verb = job.status === 1 ? 'pause' : 'resume';
  const toggle = actionButton(t(`action.${verb}`), async () => {
    await api.post(`${path}/${verb}`);
    await changed();
  }, { 'data-test': verb });
  return h('div', { class: 'row-actions' },
    actionButton(t('action.run'), async () => {
      if (!(await confirmAction(t('job.confirmRun', { name: job.name })))) return;
      const r = await api.post(`${path}/run`);
      notify(t('job.queued'), ' ', link(`#/executions/${seg(r.snapshotId)}`, h('code', {}, r.snapshotId)));
    }, { 'data-test': 'run' }),
    toggle,
    link(`#/job-form/${seg(job.id)}`, t('action.edit')),
    actionButton(t('action.delete'), async () => {
      if (!(await confirmAction(t('job.confirmDelete', { name: job.name })))) return;
      await api.del(path);
      notify(t('job.deleted'));
      await deleted();
    }, { class: 'danger', 'data-test': 'delete' }));
}

export function jobsPage(route) {
  let params = { page: 1, ...route.params };
  const body = h('div', {});
  const el = h('section', { 'data-test': 'page-jobs' },
    pageHeader(t('nav.jobs'),
      link('#/job-form', t('job.new')),
      actionButton(t('action.refresh'), () => load())),
    groupNames(),
    filters([
      { name: 'q', label: t('action.search'), type: 'search', value: params.q, placeholder: t('job.search') },
      { name: 'group', label: t('job.group'), type: 'search', value: params.group, list: GROUPS_LIST },
      { name: 'status', label: t('job.status'), type: 'select', value: params.status,
        options: options([1, 2], (s) => t(`job.status.${s}`)) },
    ], (v) => {
      params = { ...v, page: 1 };
      load().catch(showError);
    }),
    body);

  const columns = [
    { label: 'job.id', cell: (j) => h('code', { class: 'id', title: j.id }, j.id) },
    { label: 'job.name', cell: (j) => link(`#/jobs/${seg(j.id)}`, j.name), test: 'name' },
    { label: 'job.group', cell: (j) => j.group },
    { label: 'job.cron', cell: (j) => h('code', {}, j.cron) },
    { label: 'job.status', cell: (j) => jobStatus(j.status), test: 'status' },
    { label: 'job.target', cell: (j) => j.target },
    { label: 'common.actions', cell: (j) => jobActions(j, load, load) },
  ];

  async function load() {
    keepInHash(params);
    const page = await api.get('/jobs', { ...params, pageSize: 50 });
    fill(body,
      table(columns, page.items, { key: (j) => j.id, test: 'jobs' }),
      pager(page, (p) => {
        params = { ...params, page: p };
        load().catch(showError);
      }),
    );
  }

  return { el, load, events: { job: true } };
}

/** The policy fields a job has set (the server leaves defaults out). */
function policy(job) {
  const r = job.retries;
  return [
    ['job.timezone', job.timezone],
    ['job.cronSyntax', job.cronSyntax],
    ['job.misfire', job.misfire && label('misfire', job.misfire)],
    ['job.misfireLimit', job.misfireLimit],
    ['job.startingDeadline', job.startingDeadline],
    ['job.concurrency', job.concurrency && label('concurrency', job.concurrency)],
    ['job.timeout', job.timeout],
    ['job.retries', r && `${r.count} × ${r.backoff} s${r.multiplier ? ` × ${r.multiplier}ⁿ` : ''}${r.maxBackoff ? ` ≤ ${r.maxBackoff} s` : ''}`],
    ['job.route', job.route && label('route', job.route)],
    ['job.shards', job.shards],
  ].filter(([, v]) => v !== undefined && v !== '');
}

function statsCards(s) {
  return h('div', { class: 'cards', 'data-test': 'job-stats' },
    card(t('job.stats.runs'), s.runs),
    card(t('job.stats.successes'), s.successes, percent(s.successes, s.runs)),
    card(t('job.stats.failures'), s.failures),
    card(t('job.stats.p50'), duration(s.p50DurationMs)),
    card(t('job.stats.p95'), duration(s.p95DurationMs)),
    card(t('job.stats.lastSuccess'), h('span', { class: 'when' }, time(s.lastSuccessMs))),
    card(t('job.stats.lastFailure'), h('span', { class: 'when' }, time(s.lastFailureMs))));
}

export function jobPage(route) {
  const id = route.parts[1];
  const path = `/jobs/${seg(id)}`;
  let runsPage = 1;
  const body = h('div', {});
  const el = h('section', { 'data-test': 'page-job' }, body);

  async function load() {
    const job = await api.get(path);
    // The job is the page; its statistics, plan and runs each show if they can.
    const [stats, next, runs] = await Promise.allSettled([
      api.get(`${path}/stats`),
      api.get(`${path}/next`, { count: 5 }),
      api.get(`${path}/runs`, { page: runsPage, pageSize: 10 }),
    ]);
    fill(body,
      pageHeader(job.name, jobActions(job, load, () => (location.hash = '#/jobs'))),
      facts([
        ['job.id', h('code', {}, job.id)],
        ['job.group', job.group],
        ['job.cron', h('code', {}, job.cron)],
        ['job.status', jobStatus(job.status)],
        ['job.target', job.target],
        ['job.params', h('code', { class: 'pre' }, job.params)],
        ['job.mobile', job.mobile],
        ['job.remark', job.remark],
        ['job.version', job.version],
        ...policy(job),
      ], 'job'),
      h('h2', {}, t('job.stats')),
      stats.status === 'fulfilled' ? statsCards(stats.value) : null,
      h('h2', {}, t('job.nextTimes')),
      job.status === 2 ? h('p', { class: 'hint' }, t('job.pausedPlan')) : null,
      next.status === 'fulfilled'
        ? h('ol', { class: 'times', 'data-test': 'next-times' }, next.value.times.map((x) => h('li', {}, time(x))))
        : null,
      h('h2', {}, t('job.runs'), ' ', link(`#/executions?jobId=${encodeURIComponent(id)}`, h('small', {}, t('job.allRuns')))),
      runs.status === 'fulfilled'
        ? [
            table(runColumns, runs.value.items, { key: (r) => r.id, test: 'job-runs' }),
            pager(runs.value, (p) => {
              runsPage = p;
              load().catch(showError);
            }),
          ]
        : null,
    );
    const failed = [stats, next, runs].find((r) => r.status === 'rejected');
    if (failed) showError(failed.reason);
  }

  return {
    el,
    load,
    events: { job: (d) => d.id === id, run: (d) => d.jobId === id },
  };
}
