// Signing in (登录): shown instead of the app while a server run with --auth has no token from
// this tab. The token is checked before it is kept; a refusal is the server's own words.

import { session } from '../api.js';
import { form, h } from '../dom.js';
import { t } from '../i18n.js';

/** `reason`: why the last session ended ('' for none); `signedIn()` once a token is taken. */
export function signInPage(reason, signedIn) {
  const f = form({
    test: 'sign-in-form',
    submitLabel: t('signin.submit'),
    fields: [
      { name: 'token', label: t('signin.token'), type: 'password', required: true, placeholder: 'fst_…',
        help: t('signin.help') },
    ],
    onSubmit: async (v) => {
      await session.signIn(v.token);
      signedIn();
    },
  });
  return h('section', { 'data-test': 'page-sign-in' },
    h('h1', {}, t('signin.title')),
    h('p', { class: 'hint' }, t('signin.intro')),
    reason ? h('div', { class: 'message error', 'data-test': 'sign-in-reason', role: 'alert' }, reason) : null,
    f);
}
