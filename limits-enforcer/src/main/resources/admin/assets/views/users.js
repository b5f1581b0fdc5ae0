// Users: GET /v1/admin/users, paged, searched, filtered and sorted by the server. The filters live in the
// URL fragment (#/users?q=&state=&sort=&page=), so a view can be linked to and Back works.

import { get, query } from '../api.js';
import { errorBox, fmt, h, stateBadge, timeAgo, usageBar } from '../dom.js';

const PAGE_SIZE = 25;

export async function usersView(main, params, view) {
  const filters = {
    q: params.get('q') ?? '',
    state: params.get('state') ?? '',
    sort: params.get('sort') ?? 'used_desc',
    page: Math.max(1, Number(params.get('page') ?? 1) || 1),
  };
  const search = h('input', { type: 'search', id: 'user-search', name: 'q', value: filters.q, autocomplete: 'off',
    placeholder: 'user id (or its start) or e-mail', 'aria-controls': 'users-table' });
  const stateSelect = h('select', { id: 'state-filter', name: 'state', 'aria-controls': 'users-table' },
    [['', 'every state'], ['ok', 'ok (below 80 %)'], ['warning', 'warning (80 % and more)'], ['exceeded', 'exceeded (100 % and more)']]
      .map(([value, label]) => h('option', { value, selected: value === filters.state }, label)));
  const summary = h('p', { id: 'users-summary', class: 'muted', 'aria-live': 'polite' });
  const results = h('div', { class: 'table-wrap' });
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' });

  main.replaceChildren(
    h('h1', {}, 'Users'),
    h('form', { class: 'filters', role: 'search', onsubmit: (e) => { e.preventDefault(); change({ page: 1 }); } },
      h('label', { for: 'user-search' }, 'Search', search),
      h('label', { for: 'state-filter' }, 'State this month', stateSelect)),
    summary, results, pager);

  let typing;
  search.addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(() => change({ q: search.value.trim(), page: 1 }), 300);
  });
  stateSelect.addEventListener('change', () => change({ state: stateSelect.value, page: 1 }));

  /** Changes the filters: the fragment follows (without a new history entry per keystroke) and the table reloads. */
  function change(update) {
    Object.assign(filters, update);
    const fragment = `#/users${query({ q: filters.q, state: filters.state,
      sort: filters.sort === 'used_desc' ? '' : filters.sort, page: filters.page > 1 ? filters.page : '' })}`;
    history.replaceState(null, '', fragment);
    load();
  }

  let request = 0;
  async function load() {
    const mine = ++request;
    summary.textContent = 'Loading…';
    let page;
    try {
      page = await get(`/v1/admin/users${query({ q: filters.q, state: filters.state, sort: filters.sort,
        page: filters.page, page_size: PAGE_SIZE })}`);
    } catch (e) {
      if (view.alive() && mine === request) {
        summary.textContent = '';
        results.replaceChildren(errorBox(e));
      }
      return;
    }
    if (!view.alive() || mine !== request) return;
    const pages = Math.max(1, Math.ceil(page.total / page.page_size));
    summary.textContent = `${fmt.int(page.total)} ${page.total === 1 ? 'user' : 'users'}` +
      `${filters.q ? ` matching “${filters.q}”` : ''}${filters.state ? ` in state ${filters.state}` : ''}, month ${page.month}`;
    results.replaceChildren(table(page.users));
    pager.replaceChildren(
      h('button', { type: 'button', id: 'page-previous', disabled: page.page <= 1, onclick: () => change({ page: page.page - 1 }) }, '← Previous'),
      h('span', { id: 'page-position' }, `Page ${page.page} of ${pages}`),
      h('button', { type: 'button', id: 'page-next', disabled: page.page >= pages, onclick: () => change({ page: page.page + 1 }) }, 'Next →'));
  }

  function sortHeader(label, key) {
    const active = filters.sort.startsWith(key);
    const descending = filters.sort === `${key}_desc`;
    return h('th', { scope: 'col', class: 'num', 'aria-sort': active ? (descending ? 'descending' : 'ascending') : 'none' },
      h('button', { type: 'button', class: 'sort', id: `sort-${key}`,
        onclick: () => change({ sort: active && descending ? `${key}_asc` : `${key}_desc`, page: 1 }) }, label));
  }

  function table(users) {
    if (!users.length) {
      return h('p', { class: 'muted', id: 'users-empty' }, 'No user matches.');
    }
    return h('table', { class: 'users', id: 'users-table' },
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, 'User'),
        h('th', { scope: 'col' }, 'Plan'),
        sortHeader('Used / limit', 'used'),
        sortHeader('% used', 'percent'),
        h('th', { scope: 'col' }, 'State'),
        h('th', { scope: 'col', class: 'num' }, 'Referrals'),
        h('th', { scope: 'col', class: 'num' }, 'Bonus credits'),
        h('th', { scope: 'col' }, 'Last event'))),
      h('tbody', {}, users.map(u => h('tr', { dataset: { userId: u.user_id } },
        h('td', { class: 'user-cell', 'data-label': 'User' },
          h('a', { href: `#/users/${u.user_id}` }, u.email ?? fmt.shortId(u.user_id)),
          h('code', { class: 'id', title: u.user_id }, u.user_id)),
        h('td', { 'data-label': 'Plan', class: 'plan' }, u.plan),
        h('td', { 'data-label': 'Used / limit', class: 'used' },
          usageBar(u.current_month_used, u.effective_limit, u.current_month_state, u.percent_used)),
        h('td', { 'data-label': '% used', class: 'num percent' }, fmt.pct(u.percent_used)),
        h('td', { 'data-label': 'State', class: 'state-cell' }, stateBadge(u.current_month_state)),
        h('td', { 'data-label': 'Referrals', class: 'num referrals' }, fmt.int(u.referral_count)),
        h('td', { 'data-label': 'Bonus credits', class: 'num credits' }, fmt.int(u.bonus_credits)),
        h('td', { 'data-label': 'Last event', class: 'last-event' }, timeAgo(u.last_event_at))))));
  }

  await load();
}
