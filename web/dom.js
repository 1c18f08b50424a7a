// Building blocks every page shares: elements, the table, fields and forms, the pager,
// messages and dialogs. Server data only ever enters the page as text nodes or attribute
// values (never as HTML), so nothing a job or a worker is named can inject markup.

import { t } from './i18n.js';

/**
 * An element: `attrs` are attributes (`on…` functions become listeners, `false`/`null` are
 * left out); children are nodes, strings (as text), arrays of them, or null.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value') el.value = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  append(el, children);
  return el;
}

/** Replaces `el`'s children with `children`, taken as `h` takes them. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

export function link(href, ...children) {
  return h('a', { href }, ...children);
}

export function badge(text, kind, attrs = {}) {
  return h('span', { class: `badge ${kind || ''}`, ...attrs }, text);
}

/** A page's heading with its buttons (`actions`) on the right. */
export function pageHeader(title, ...actions) {
  return h('div', { class: 'page-header' }, h('h1', {}, title), h('div', { class: 'actions' }, actions));
}

export function button(label, onclick, attrs = {}) {
  return h('button', { type: 'button', onclick, ...attrs }, label);
}

/**
 * A button whose action is a request: disabled while it runs, its failure shown as the
 * page's error.
 */
export function actionButton(label, run, attrs = {}) {
  const b = button(label, async () => {
    b.disabled = true;
    try {
      await run();
    } catch (e) {
      showError(e);
    } finally {
      b.disabled = false;
    }
  }, attrs);
  return b;
}

/**
 * A table: `columns` are `{label, cell(row), test?}` (label an i18n key, cell a node or text);
 * each row is marked `data-id` with `key(row)`. On a phone each row becomes a card whose
 * cells are labelled (CSS reads `data-label`).
 */
export function table(columns, rows, { key, test, empty = t('common.empty') } = {}) {
  const head = h('tr', {}, columns.map((c) => h('th', {}, t(c.label))));
  const body = rows.length
    ? rows.map((row) =>
        h('tr', { 'data-id': key ? key(row) : null },
          columns.map((c) => h('td', { 'data-label': t(c.label), 'data-test': c.test || null }, c.cell(row)))))
    : h('tr', { class: 'empty' }, h('td', { colspan: columns.length }, empty));
  return h('div', { class: 'table-wrap' }, h('table', { 'data-test': test }, h('thead', {}, head), h('tbody', {}, body)));
}

/** Label/value pairs (`[key, value]`, value a node or text) as a definition list. */
export function facts(pairs, test) {
  return h('dl', { class: 'facts', 'data-test': test },
    pairs.map(([label, value]) => [h('dt', {}, t(label)), h('dd', {}, value === '' || value == null ? '—' : value)]));
}

/** A small figure with its caption: the dashboard's and the job page's numbers. */
export function card(label, value, sub, attrs = {}) {
  return h('div', { class: 'card', ...attrs },
    h('div', { class: 'card-label' }, label),
    h('div', { class: 'card-value' }, value),
    sub ? h('div', { class: 'card-sub' }, sub) : null);
}

/**
 * A labelled control. `f`: `{name, label, type ('text', 'number', 'textarea', 'select',
 * 'checkbox', 'datetime-local', 'search'), options: [[value, label]], value, required,
 * placeholder, help, list}`; the control is `data-test="field-<name>"`.
 */
export function field(f) {
  const attrs = {
    name: f.name,
    id: `field-${f.name}`,
    'data-test': `field-${f.name}`,
    required: !!f.required,
    placeholder: f.placeholder || null,
    list: f.list || null,
    disabled: !!f.disabled,
  };
  let control;
  if (f.type === 'select') {
    control = h('select', attrs, f.options.map(([v, label]) => h('option', { value: v }, label)));
    control.value = f.value ?? '';
  } else if (f.type === 'textarea') {
    control = h('textarea', { ...attrs, rows: 3 });
    control.value = f.value ?? '';
  } else if (f.type === 'checkbox') {
    control = h('input', { ...attrs, type: 'checkbox', checked: !!f.value });
  } else {
    control = h('input', { ...attrs, type: f.type || 'text', min: f.type === 'number' ? 0 : null, value: f.value ?? '' });
  }
  const cls = `field ${f.type === 'checkbox' ? 'check' : ''} ${f.wide ? 'wide' : ''}`;
  return h('label', { class: cls, for: attrs.id },
    h('span', { class: 'field-label' }, f.label),
    control,
    f.help ? h('small', { class: 'help' }, f.help) : null);
}

/** The values of a form's named controls: numbers for number inputs (null when empty). */
export function values(formEl) {
  const out = {};
  for (const el of formEl.elements) {
    if (!el.name) continue;
    if (el.type === 'checkbox') out[el.name] = el.checked;
    else if (el.type === 'number') out[el.name] = el.value === '' ? null : Number(el.value);
    else out[el.name] = el.value.trim();
  }
  return out;
}

/**
 * A form of `fields` (field specs, or nodes placed as they are). `onSubmit(values)` may
 * throw: its message is shown in the form (`data-test="form-error"`) and the form stays.
 */
export function form({ fields, submitLabel, onSubmit, test, extra = [] }) {
  const error = h('div', { class: 'form-error', 'data-test': 'form-error', role: 'alert', hidden: true });
  const submit = h('button', { type: 'submit', class: 'primary', 'data-test': 'submit' }, submitLabel);
  const el = h('form', { class: 'form', 'data-test': test, novalidate: true },
    h('div', { class: 'fields' }, fields.map((f) => (f instanceof Node ? f : field(f)))),
    error,
    h('div', { class: 'form-actions' }, submit, extra));
  el.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.hidden = true;
    submit.disabled = true;
    try {
      await onSubmit(values(el));
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
    } finally {
      submit.disabled = false;
    }
  });
  return el;
}

/**
 * A row of filter controls above a list; `onChange(values)` after each change (typing is
 * waited out for a moment so the list is not fetched on every key).
 */
export function filters(fields, onChange) {
  const el = h('form', { class: 'filters', 'data-test': 'filters', role: 'search' }, fields.map(field));
  let timer;
  const fire = () => onChange(values(el));
  el.addEventListener('input', (e) => {
    clearTimeout(timer);
    timer = setTimeout(fire, e.target.tagName === 'SELECT' ? 0 : 300);
  });
  el.addEventListener('submit', (e) => {
    e.preventDefault();
    clearTimeout(timer);
    fire();
  });
  return el;
}

/** Page links under a list; `go(page)` shows another page. */
export function pager({ page, pageSize, total, totalCapped }, go) {
  const pages = Math.max(1, Math.ceil(total / pageSize));
  return h('div', { class: 'pager', 'data-test': 'pager' },
    button(t('common.prev'), () => go(page - 1), { disabled: page <= 1 }),
    h('span', {}, t('common.page', { page, pages: totalCapped ? `${pages}+` : pages }), ' · ',
      t(totalCapped ? 'common.totalCapped' : 'common.total', { total })),
    button(t('common.next'), () => go(page + 1), { disabled: page >= pages && !totalCapped }));
}

/** Options for a select: "all" first, then `items` as their own labels (or `label(item)`). */
export function options(items, label = (v) => v) {
  return [['', t('common.all')], ...items.map((v) => [v, label(v)])];
}

// Messages: the error banner stays until the next page or the next success; notices fade.

export function showError(err) {
  const box = document.getElementById('error');
  box.textContent = err.message || String(err);
  box.hidden = false;
}

export function clearError() {
  document.getElementById('error').hidden = true;
}

/** Hides the error and the notice alike (signing out: neither is for whoever signs in next). */
export function clearMessages() {
  clearError();
  document.getElementById('notice').hidden = true;
}

/** Shows a notice: text, or nodes such as a link to what was just made. */
export function notify(...content) {
  clearError();
  const box = document.getElementById('notice');
  fill(box, content);
  box.hidden = false;
  clearTimeout(notify.timer);
  notify.timer = setTimeout(() => (box.hidden = true), 4000);
}

/** Asks `question` in the confirmation dialog; resolves to whether it was confirmed. */
export function confirmAction(question) {
  const dialog = document.getElementById('confirm');
  dialog.querySelector('[data-test="confirm-text"]').textContent = question;
  dialog.returnValue = '';
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
  });
}

/** Shows `value` as indented JSON in the details dialog. */
export function showDetails(title, value) {
  const dialog = document.getElementById('details');
  dialog.querySelector('[data-test="details-title"]').textContent = title;
  dialog.querySelector('[data-test="details-body"]').textContent = JSON.stringify(value, null, 2);
  dialog.showModal();
}
