// The single-page app: hash routes to pages, the event stream that refreshes the page on
// show, signing in and out, the language switch and the phone menu.
//
// A page is a function of its route returning `{el, load, events?, stop?}`: `el` is shown at
// once, `load()` fetches and fills it (and again on each event the page cares about),
// `events` maps an event name to `true` or to a test of the event's data, `stop()` ends its
// timers when another page is shown.

import { session, subscribe, unsubscribe, whenSignedOut } from './api.js';
import { clearError, clearMessages, fill, h, showError } from './dom.js';
import { lang, setLang, t, translateStatic } from './i18n.js';
import { clusterPage } from './pages/cluster.js';
import { dashboardPage } from './pages/dashboard.js';
import { executionPage, executionsPage } from './pages/executions.js';
import { groupsPage } from './pages/groups.js';
import { jobFormPage } from './pages/job-form.js';
import { jobPage, jobsPage } from './pages/jobs.js';
import { signInPage } from './pages/sign-in.js';
import { snapshotsPage } from './pages/snapshots.js';
import { tokensPage } from './pages/tokens.js';
import { workersPage } from './pages/workers.js';

/** `#/jobs/42?x=1` → `{parts: ['jobs', '42'], params: {x: '1'}}`. */
function parse(hash) {
  const [path, query = ''] = hash.replace(/^#\/?/, '').split('?');
  return {
    parts: path.split('/').filter(Boolean).map(decodeURIComponent),
    params: Object.fromEntries(new URLSearchParams(query)),
  };
}

function resolve([section, id, sub]) {
  switch (section) {
    case undefined:
    case 'dashboard':
      return dashboardPage;
    case 'jobs':
      return id === undefined ? jobsPage : jobPage;
    case 'job-form':
      return jobFormPage;
    case 'groups':
      return groupsPage;
    case 'workers':
      return workersPage;
    case 'snapshots':
      return snapshotsPage;
    case 'executions':
      return id === undefined ? executionsPage : executionPage;
    case 'cluster':
      return clusterPage;
    case 'tokens':
      return tokensPage;
    default:
      return () => ({ el: h('h1', { 'data-test': 'not-found' }, t('notfound.title')), load: async () => {} });
  }
}

let current = null;
let loading = false;
let again = false;

/** Loads the current page; an event arriving meanwhile loads it once more afterwards. */
async function reload() {
  if (!current) return; // Signed out.
  if (loading) {
    again = true;
    return;
  }
  loading = true;
  const page = current;
  try {
    await page.load();
  } catch (e) {
    if (page === current) showError(e);
  } finally {
    loading = false;
  }
  if (again) {
    again = false;
    reload();
  }
}

function show() {
  if (current && current.stop) current.stop();
  // Events batched for the page left behind would load the new one a second time, wiping
  // whatever was typed into it meanwhile.
  clearTimeout(eventTimer);
  eventTimer = null;
  clearError();
  document.body.classList.remove('nav-open');
  const route = parse(location.hash);
  current = resolve(route.parts)(route);
  const section = route.parts[0] === 'job-form' ? 'jobs' : route.parts[0] || 'dashboard';
  for (const a of document.querySelectorAll('#nav a')) {
    const here = a.dataset.page === section;
    a.classList.toggle('active', here);
    if (here) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.getElementById('view').replaceChildren(current.el);
  reload();
}

/** How long events are gathered before the page is loaded for them. */
const EVENT_BATCH_MS = 500;

let eventTimer = null;

/**
 * Events come in bursts (a tick fires many runs), and on a busy cluster never stop: the page
 * is loaded at most once per batch, however many events the batch holds.
 */
function reloadSoon() {
  if (eventTimer) return;
  eventTimer = setTimeout(() => {
    eventTimer = null;
    reload();
  }, EVENT_BATCH_MS);
}

function onEvent(name) {
  return (data) => {
    const wants = current && current.events && current.events[name];
    if (wants && (wants === true || wants(data))) reloadSoon();
  };
}

/** The server dropped events this browser was too slow to take: any live page may have missed its own. */
function onLagged() {
  if (current && current.events) reloadSoon();
}

let wasLive = false;

function setLive(on) {
  const el = document.getElementById('live');
  el.dataset.state = on ? 'on' : 'off';
  el.dataset.i18n = on ? 'live.on' : 'live.off';
  el.textContent = t(el.dataset.i18n);
  // Events sent before the stream (re)opened are lost to it: a live page catches up each time.
  if (on && !wasLive && current && current.events) reload();
  wasLive = on;
}

const EVENTS = ['run', 'job', 'worker', 'snapshot', 'leader'];

/** Why the sign-in page is shown ('' for no reason); null while the app is. */
let signedOutWith = null;

/** The app, with the session's token if there is one (a server without --auth needs none). */
function enter() {
  signedOutWith = null;
  document.body.classList.remove('signed-out');
  document.getElementById('sign-in').hidden = true;
  document.getElementById('sign-out').hidden = !session.token();
  document.querySelector('#nav a[data-page=tokens]').hidden = !session.isAdmin();
  subscribe({ ...Object.fromEntries(EVENTS.map((e) => [e, onEvent(e)])), lagged: onLagged }, setLive);
  show();
}

/** The sign-in page in the app's stead; the address stays, so signing in returns to it. */
function leave(reason) {
  // Requests in flight together are refused together: the first one says why.
  if (signedOutWith !== null) return;
  signedOutWith = reason;
  if (current && current.stop) current.stop();
  current = null;
  unsubscribe();
  setLive(false);
  clearMessages();
  document.body.classList.remove('nav-open');
  document.body.classList.add('signed-out');
  showSignIn();
}

function showSignIn() {
  const box = document.getElementById('sign-in');
  fill(box, signInPage(signedOutWith, enter));
  box.hidden = false;
  box.querySelector('input').focus();
}

function start() {
  translateStatic();
  document.getElementById('lang').addEventListener('click', () => {
    setLang(lang() === 'zh' ? 'en' : 'zh');
    if (signedOutWith === null) show();
    else showSignIn();
  });
  document.getElementById('sign-out').addEventListener('click', session.signOut);
  document.getElementById('menu-toggle').addEventListener('click', () => {
    const open = document.body.classList.toggle('nav-open');
    document.getElementById('menu-toggle').setAttribute('aria-expanded', String(open));
  });
  window.addEventListener('hashchange', () => {
    if (signedOutWith === null) show();
  });
  whenSignedOut(leave);
  enter();
}

start();
