// The job form (新增任务 / 编辑任务): the original's fields, Forest's scheduling policy folded
// away beneath them, and the next fire times shown as the expression is typed.

import { api, seg } from '../api.js';
import { button, field, fill, form, h, notify, pageHeader } from '../dom.js';
import { label, time } from '../format.js';
import { t } from '../i18n.js';

const EXAMPLES = {
  robfig: [
    ['*/2 * * * * *', 'cron.ex.every2s'],
    ['0 0 * * * *', 'cron.ex.hourly'],
    ['0 30 9 * * 1-5', 'cron.ex.weekdays'],
    ['@every 5m', 'cron.ex.every5m'],
  ],
  crontab: [
    ['* * * * *', 'cron.ex.everyMinute'],
    ['*/5 * * * *', 'cron.ex.every5m'],
    ['30 9 * * 1-5', 'cron.ex.weekdays'],
    ['0 0 * * *', 'cron.ex.daily'],
  ],
};

const choices = (prefix, values) => values.map((v) => [v, label(prefix, v)]);

/** The cron field, its help with examples to pick, and the live preview of fire times. */
function cronBlock(job) {
  const preview = h('div', { class: 'preview', 'data-test': 'cron-preview', 'aria-live': 'polite' });
  const block = h('div', { class: 'field wide cron' },
    field({ name: 'cron', label: t('job.cron'), value: job.cron, required: true, placeholder: '*/2 * * * * *' }),
    preview);
  let timer;
  let asked = 0;

  // The newest answer wins: a slow answer to an older expression is dropped.
  async function refresh() {
    const f = block.closest('form');
    const cron = f.elements.cron.value.trim();
    const n = ++asked;
    if (!cron) {
      fill(preview, h('small', {}, t('job.previewEmpty')));
      return;
    }
    try {
      const r = await api.post('/cron/preview', {
        cron,
        timezone: f.elements.timezone.value.trim(),
        cronSyntax: f.elements.cronSyntax.value,
        count: 5,
      });
      if (n !== asked) return;
      preview.className = 'preview';
      fill(preview, h('span', {}, t('job.preview'), ':'),
        h('ol', { class: 'times' }, r.times.map((x) => h('li', {}, time(x)))));
    } catch (e) {
      if (n !== asked) return;
      preview.className = 'preview invalid';
      fill(preview, e.message);
    }
  }

  const help = h('details', { class: 'cron-help', 'data-test': 'cron-help' },
    h('summary', {}, t('cron.help')),
    Object.entries(EXAMPLES).map(([syntax, examples]) => [
      h('p', {}, t(`cron.${syntax}`)),
      h('ul', {}, examples.map(([expr, what]) => h('li', {},
        button(expr, () => {
          const f = block.closest('form');
          f.elements.cron.value = expr;
          f.elements.cronSyntax.value = syntax;
          refresh();
        }, { class: 'link' }),
        ' ', t(what)))),
    ]));
  block.append(help);
  return {
    block,
    watch(f) {
      f.addEventListener('input', (e) => {
        if (!['cron', 'timezone', 'cronSyntax'].includes(e.target.name)) return;
        clearTimeout(timer);
        timer = setTimeout(refresh, 250);
      });
      refresh();
    },
  };
}

/** The request body: the loaded job (fields this form does not show are kept) with the form's values. */
function jobOf(job, v) {
  const body = {
    ...job,
    name: v.name,
    group: v.group,
    cron: v.cron,
    cronSyntax: v.cronSyntax,
    timezone: v.timezone,
    status: Number(v.status),
    target: v.target,
    params: v.params,
    mobile: v.mobile,
    remark: v.remark,
    misfire: v.misfire,
    misfireLimit: v.misfireLimit || 0,
    startingDeadline: v.startingDeadline || 0,
    concurrency: v.concurrency,
    timeout: v.timeout || 0,
    route: v.route,
    shards: v.shards || 0,
  };
  if (v['retries.count']) {
    body.retries = {
      count: v['retries.count'],
      backoff: v['retries.backoff'] || 0,
      multiplier: v['retries.multiplier'] || 1,
      maxBackoff: v['retries.maxBackoff'] || 0,
    };
  } else {
    delete body.retries;
  }
  return body;
}

export function jobFormPage(route) {
  const id = route.parts[1];
  const header = pageHeader(t(id ? 'job.edit' : 'job.new'));
  const el = h('section', { 'data-test': 'page-job-form' }, header);

  async function load() {
    const [job, groups] = await Promise.all([
      id ? api.get(`/jobs/${seg(id)}`) : Promise.resolve({ status: 1 }),
      api.get('/groups'),
    ]);
    const r = job.retries || {};
    const cron = cronBlock(job);
    const advanced = h('details', { class: 'wide advanced', 'data-test': 'advanced' },
      h('summary', {}, t('job.advanced')),
      h('div', { class: 'fields' }, [
        { name: 'misfire', label: t('job.misfire'), type: 'select', value: job.misfire || 'once',
          options: choices('misfire', ['skip', 'once', 'all']) },
        { name: 'misfireLimit', label: t('job.misfireLimit'), type: 'number', value: job.misfireLimit },
        { name: 'startingDeadline', label: t('job.startingDeadline'), type: 'number', value: job.startingDeadline },
        { name: 'concurrency', label: t('job.concurrency'), type: 'select', value: job.concurrency || 'allow',
          options: choices('concurrency', ['allow', 'forbid', 'replace']) },
        { name: 'timeout', label: t('job.timeout'), type: 'number', value: job.timeout },
        { name: 'route', label: t('job.route'), type: 'select', value: job.route || 'random',
          options: choices('route', ['random', 'round_robin', 'least_busy', 'consistent_hash', 'broadcast', 'sharded']) },
        { name: 'shards', label: t('job.shards'), type: 'number', value: job.shards },
        { name: 'retries.count', label: t('job.retries'), type: 'number', value: r.count },
        { name: 'retries.backoff', label: t('job.retryBackoff'), type: 'number', value: r.backoff },
        { name: 'retries.multiplier', label: t('job.retryMultiplier'), type: 'number', value: r.multiplier },
        { name: 'retries.maxBackoff', label: t('job.retryMaxBackoff'), type: 'number', value: r.maxBackoff },
      ].map(field)));
    const f = form({
      test: 'job-form',
      submitLabel: t(id ? 'action.save' : 'action.create'),
      extra: [button(t('action.cancel'), () => (location.hash = id ? `#/jobs/${seg(id)}` : '#/jobs'))],
      fields: [
        { name: 'name', label: t('job.name'), value: job.name, required: true },
        { name: 'group', label: t('job.group'), type: 'select', required: true,
          value: job.group ?? (groups.items[0] && groups.items[0].name),
          options: groups.items.map((g) => [g.name, g.remark ? `${g.name} (${g.remark})` : g.name]) },
        cron.block,
        { name: 'cronSyntax', label: t('job.cronSyntax'), type: 'select', value: job.cronSyntax || 'robfig',
          options: [['robfig', 'robfig'], ['crontab', 'crontab']] },
        { name: 'timezone', label: t('job.timezone'), value: job.timezone, placeholder: 'Asia/Shanghai',
          help: t('job.timezoneHelp') },
        { name: 'status', label: t('job.status'), type: 'select', value: String(job.status),
          options: [['1', t('job.status.1')], ['2', t('job.status.2')]] },
        { name: 'target', label: t('job.target'), value: job.target, required: true, list: 'targets',
          help: t('job.targetHelp') },
        h('datalist', { id: 'targets' }, h('option', { value: 'shell' }), h('option', { value: 'http' })),
        { name: 'mobile', label: t('job.mobile'), value: job.mobile },
        { name: 'remark', label: t('job.remark'), value: job.remark },
        { name: 'params', label: t('job.params'), type: 'textarea', value: job.params, wide: true },
        advanced,
      ],
      onSubmit: async (v) => {
        const body = jobOf(job, v);
        const saved = id ? await api.put(`/jobs/${seg(id)}`, body) : await api.post('/jobs', body);
        notify(t('job.saved'));
        location.hash = `#/jobs/${seg(saved.id)}`;
      },
    });
    cron.watch(f);
    fill(el, header, f);
  }

  return { el, load };
}
