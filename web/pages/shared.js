// What several pages need from the server or the address bar.

import { api } from '../api.js';
import { fill, h } from '../dom.js';

/** The id of the list of group names that group fields suggest from (see `groupNames`). */
export const GROUPS_LIST = 'group-names';

/** A datalist of the groups' names, filled when they arrive. */
export function groupNames() {
  const list = h('datalist', { id: GROUPS_LIST });
  api.get('/groups').then(
    (r) => fill(list, r.items.map((g) => h('option', { value: g.name }, g.remark || g.name))),
    () => {}, // Only suggestions: the page's own requests report a failing server.
  );
  return list;
}

/**
 * Keeps a list's filters and page in the address (`#/jobs?group=x&page=2`) without
 * reloading the page, so a reload or a shared link shows the same list.
 */
export function keepInHash(params) {
  const [path] = location.hash.split('?');
  const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== '' && v !== null && v !== undefined));
  const s = q.toString();
  history.replaceState(null, '', s ? `${path}?${s}` : path);
}
