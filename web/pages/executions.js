// Executions: the history of runs (running ones first, as the server lists them newest first),
// filtered, and one run with its output, followed while it runs.

import { api, seg } from '../api.js';
import {
  actionButton, facts, field, fill, filters, h, link, options, pageHeader, pager, showError, table,
} from '../dom.js';
import { duration, execStatus, rfc3339, time } from '../format.js';
import { t } from '../i18n.js';
import { GROUPS_LIST, groupNames, keepInHash } from './shared.js';

/** How often a running execution is fetched again while followed. */
const FOLLOW_MS = 2000;

const STATUSES = [1, 2, 3, -1, -2, -3, -4, -5];

/** How long a run took: the exact figure when the server has it, else the original's seconds. */
function took(run) {
  if (run.durationMs !== undefined) return duration(run.durationMs);
  return run.status === 1 ? '—' : duration(run.times * 1000);
}

/** The columns every list of runs shows (here, on a job's page, on the dashboard). */
export const runColumns = [
  { label: 'exec.id', cell: (r) => link(`#/executions/${seg(r.id)}`, h('code', { class: 'id', title: r.id }, r.id)) },
  { label: 'exec.job', cell: (r) => link(`#/jobs/${seg(r.jobId)}`, r.name || r.jobId) },
  { label: 'exec.group', cell: (r) => r.group },
  { label: 'exec.worker', cell: (r) => r.worker || r.ip || '—' },
  { label: 'exec.status', cell: (r) => execStatus(r.status), test: 'status' },
  { label: 'exec.startTime', cell: (r) => time(r.startTime || r.createTime) },
  { label: 'exec.duration', cell: took },
  { label: 'exec.result', cell: (r) => h('span', { class: 'clip', title: r.result }, r.result) },
];

export function executionsPage(route) {
  let params = { page: 1, ...route.params };
  const body = h('div', {});

  const filterFields = [
    { name: 'jobId', label: t('exec.jobId'), type: 'search', value: params.jobId },
    { name: 'name', label: t('exec.name'), type: 'search', value: params.name },
    { name: 'group', label: t('exec.group'), type: 'search', value: params.group, list: GROUPS_LIST },
    { name: 'worker', label: t('exec.worker'), type: 'search', value: params.worker },
    { name: 'status', label: t('exec.status'), type: 'select', value: params.status,
      options: options(STATUSES, (s) => t(`exec.status.${s}`)) },
    { name: 'from', label: t('exec.from'), type: 'datetime-local', value: params.from },
    { name: 'to', label: t('exec.to'), type: 'datetime-local', value: params.to },
  ];
  const el = h('section', { 'data-test': 'page-executions' },
    pageHeader(t('nav.executions'), actionButton(t('action.refresh'), () => load())),
    groupNames(),
    filters(filterFields, (v) => {
      params = { ...v, page: 1 };
      load().catch(showError);
    }),
    body);

  async function load() {
    keepInHash(params);
    const page = await api.get('/executions', {
      ...params,
      from: rfc3339(params.from),
      to: rfc3339(params.to),
      pageSize: 20,
    });
    fill(body,
      table(runColumns, page.items, { key: (r) => r.id, test: 'executions' }),
      pager(page, (p) => {
        params = { ...params, page: p };
        load().catch(showError);
      }),
    );
  }

  return { el, load, events: { run: true } };
}

export function executionPage(route) {
  const id = route.parts[1];
  const follow = field({ name: 'follow', label: t('exec.follow'), type: 'checkbox', value: true });
  const body = h('div', {});
  const output = h('pre', { class: 'output', 'data-test': 'output' });
  const el = h('section', { 'data-test': 'page-execution' },
    pageHeader(t('exec.id'), follow, actionButton(t('action.refresh'), () => load())),
    body,
    h('h2', {}, t('exec.output')),
    output);
  let timer;
  let stopped = false;

  /** The run, or null while it has no record: a queued run gets one when a worker takes it. */
  async function fetchRun() {
    try {
      return await api.get(`/executions/${seg(id)}`);
    } catch (e) {
      if (e.status === 404) return null;
      throw e;
    }
  }

  async function load() {
    const run = await fetchRun();
    if (run) show(run);
    else fill(body, h('p', { class: 'hint', 'data-test': 'not-started' }, t('exec.notStarted')));
    const following = follow.querySelector('input').checked;
    if (following) output.scrollTop = output.scrollHeight;
    clearTimeout(timer);
    if (following && (!run || run.status === 1) && !stopped) {
      timer = setTimeout(() => load().catch(showError), FOLLOW_MS);
    }
  }

  function show(run) {
    fill(body, facts([
      ['exec.id', h('code', { 'data-test': 'execution-id' }, run.id)],
      ['exec.job', link(`#/jobs/${seg(run.jobId)}`, run.name || run.jobId)],
      ['exec.group', run.group],
      ['exec.status', execStatus(run.status)],
      ['exec.worker', run.worker || run.ip],
      ['exec.node', run.node],
      ['exec.scheduledAt', time(run.scheduledAt)],
      ['exec.createTime', time(run.createTime)],
      ['exec.startTime', time(run.startTime)],
      ['exec.finishTime', time(run.finishTime)],
      ['exec.duration', took(run)],
      ['exec.attempt', run.attempt],
      ['exec.shard', run.shardTotal ? `${run.shardIndex} / ${run.shardTotal}` : null],
      ['job.target', run.target],
      ['job.params', h('code', {}, run.params)],
      ['exec.result', run.result],
    ], 'execution'));
    output.textContent = run.output || t('exec.noOutput');
  }

  follow.addEventListener('change', () => load().catch(showError));
  return {
    el,
    load,
    events: { run: (d) => d.id === id },
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
