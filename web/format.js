// How values read: times, durations, rates and the status codes as labelled badges.

import { badge } from './dom.js';
import { has, t } from './i18n.js';

const pad = (n) => String(n).padStart(2, '0');

/**
 * A time as `YYYY-MM-DD HH:MM:SS` in the browser's zone. Takes RFC 3339, epoch milliseconds,
 * or the original's zoneless `yyyy-MM-dd HH:mm:ss` (the server's wall clock, shown as it is).
 */
export function time(v) {
  if (v === undefined || v === null || v === '' || v === 0) return '—';
  if (typeof v === 'string' && /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/.test(v)) return v;
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) return String(v);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** Inputs give `2026-01-02T03:04` in the browser's zone; the API wants RFC 3339. */
export function rfc3339(local) {
  return local ? new Date(local).toISOString() : '';
}

export function duration(ms) {
  if (ms === undefined || ms === null) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** `part` of `whole` as a percentage, or a dash when there is no whole. */
export function percent(part, whole) {
  return whole ? `${((100 * part) / whole).toFixed(1)}%` : '—';
}

/** A run's status: its label, or the bare number for a code this UI does not know. */
export function execStatus(code) {
  const key = `exec.status.${code}`;
  const kind = code === 1 ? 'info' : code === 2 ? 'ok' : 'bad';
  return badge(has(key) ? t(key) : String(code), kind, { 'data-status': code, title: String(code) });
}

export function jobStatus(code) {
  const key = `job.status.${code}`;
  return badge(has(key) ? t(key) : String(code), code === 1 ? 'ok' : 'muted', { 'data-status': code });
}

/** A label from the dictionary under `prefix`, or the value itself. */
export function label(prefix, value) {
  const key = `${prefix}.${value}`;
  return has(key) ? t(key) : String(value);
}
