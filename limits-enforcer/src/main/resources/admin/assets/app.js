// The admin panel: sign-in, then one view per section, chosen by the URL fragment (#/users, #/users/<id>,
// #/replays, #/replays/<job id>, #/analytics). Views call the admin API only; see api.js.

import { ApiError, get, onUnauthorized } from './api.js';
import { errorBox, h } from './dom.js';
import { session, takeTokenFromFragment } from './session.js';
import { usersView } from './views/users.js';
import { userView } from './views/user.js';
import { replaysView } from './views/replays.js';
import { analyticsView } from './views/analytics.js';

const main = document.getElementById('main');
const who = document.getElementById('who');
const signOut = document.getElementById('sign-out');
const notice = document.getElementById('notice');

const routes = [
  { section: 'users', pattern: /^#\/users\/([0-9a-fA-F-]{36})$/, view: (m, view) => userView(main, m[1], view) },
  { section: 'users', pattern: /^#\/users(?:\?(.*))?$/, view: (m, view) => usersView(main, new URLSearchParams(m[1] ?? ''), view) },
  { section: 'replays', pattern: /^#\/replays(?:\/([\w-]+))?$/, view: (m, view) => replaysView(main, m[1], view) },
  { section: 'analytics', pattern: /^#\/analytics(?:\?.*)?$/, view: (m, view) => analyticsView(main, view) },
];

/** Counts the views shown; a view's pending work (polls, late answers) checks `alive()` before touching the page. */
let generation = 0;
let signedInAs = null;

function showSignIn(reason) {
  generation++;
  session.clear();
  signedInAs = null;
  who.textContent = '';
  signOut.hidden = true;
  setNav(null);
  const input = h('input', { type: 'password', id: 'token', name: 'token', required: true, autocomplete: 'off',
    'aria-describedby': 'token-help' });
  const status = h('div', { id: 'sign-in-status', 'aria-live': 'polite' },
    reason ? errorBox(reason) : null);
  const form = h('form', {
    onsubmit: async (event) => {
      event.preventDefault();
      session.set(input.value.trim());
      status.replaceChildren(h('p', { class: 'muted' }, 'Checking the token…'));
      if (await checkSession()) {
        route();
      }
    },
  },
  h('label', { for: 'token' }, 'Admin token'),
  input,
  h('p', { id: 'token-help', class: 'muted' },
    'Paste an admin token: ', h('code', {}, 'meter admin token'), ' prints one, and ', h('code', {}, 'meter dev'),
    ' prints a sign-in link. The token stays in this tab only (sessionStorage) until you sign out or close it.'),
  h('div', {}, h('button', { type: 'submit', class: 'primary', id: 'sign-in' }, 'Sign in')));
  main.replaceChildren(h('section', { class: 'sign-in', 'aria-labelledby': 'sign-in-title' },
    h('h1', { id: 'sign-in-title' }, 'Sign in'), status, form));
  input.focus();
}

/** Asks the API who the token belongs to; a refusal brings the sign-in back with the API's reason. */
async function checkSession() {
  if (!session.token()) {
    showSignIn(null);
    return false;
  }
  try {
    const me = await get('/v1/admin/session');
    signedInAs = me.email;
    who.textContent = `Signed in as ${me.email}`;
    signOut.hidden = false;
    return true;
  } catch (e) {
    if (e.status !== 401) {
      showSignIn(e);
    }
    return false;
  }
}

function setNav(section) {
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.section === section) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

async function route() {
  notice.hidden = true;
  if (!session.token()) {
    showSignIn(null);
    return;
  }
  if (!signedInAs && !(await checkSession())) {
    return;
  }
  const hash = location.hash && location.hash.startsWith('#/') ? location.hash : '#/users';
  const match = routes.map(r => ({ r, m: r.pattern.exec(hash) })).find(x => x.m);
  if (!match) {
    location.replace('#/users');
    return;
  }
  const mine = ++generation;
  const view = { alive: () => mine === generation };
  setNav(match.r.section);
  try {
    await match.r.view(match.m, view);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return;
    if (view.alive()) main.replaceChildren(errorBox(e instanceof ApiError ? e : { error: String(e) }));
  }
}

onUnauthorized((error) => showSignIn(error));

signOut.addEventListener('click', () => {
  showSignIn(null);
  history.replaceState(null, '', `${location.pathname}#/users`);
});

document.getElementById('skip-link').addEventListener('click', (event) => {
  event.preventDefault();
  main.focus();
});

window.addEventListener('hashchange', () => {
  // A sign-in link opened in a tab that already shows the panel: its token replaces the one in use.
  if (takeTokenFromFragment()) signedInAs = null;
  if (location.hash.startsWith('#/')) route();
});

takeTokenFromFragment();
route();
