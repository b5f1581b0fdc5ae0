// Analytics: the platform day by day (GET /v1/admin/analytics/daily) and this month's users
// (GET /v1/admin/analytics): each series a chart with its numbers on hover, and in a table under it.

import { get, query } from '../api.js';
import { categoryBars, COLORS, lineDays, rankedBars, stackedDays } from '../charts.js';
import { currentMonth, fmt, h, numbersTable, stateBadge } from '../dom.js';

const PROVIDERS = ['openai', 'anthropic', 'github', 'gemini', 'other'];
const TOP = 10;

export async function analyticsView(main, view) {
  const days = Number(new URLSearchParams(location.hash.split('?')[1] ?? '').get('days') ?? 30);
  const span = [7, 30, 90].includes(days) ? days : 30;
  const to = new Date().toISOString().slice(0, 10);
  const from = new Date(Date.now() - (span - 1) * 86400000).toISOString().slice(0, 10);
  const month = currentMonth();
  const [daily, monthly] = await Promise.all([
    get(`/v1/admin/analytics/daily${query({ from, to })}`),
    get(`/v1/admin/analytics${query({ month, top: TOP })}`),
  ]);
  if (!view.alive()) return;

  const windowSelect = h('select', { id: 'analytics-window', onchange: (e) => { location.hash = `#/analytics?days=${e.target.value}`; } },
    [7, 30, 90].map(d => h('option', { value: d, selected: d === span }, `last ${d} days`)));
  const growthChart = h('div', { class: 'chart', id: 'growth-chart' });
  const eventsChart = h('div', { class: 'chart', id: 'events-chart' });
  const statesChart = h('div', { class: 'chart', id: 'states-chart' });
  const topChart = h('div', { class: 'chart', id: 'top-chart' });
  const dayList = daily.days.map(d => d.day);
  const states = ['ok', 'warning', 'exceeded'];
  const top = monthly.top_users;
  const name = (u) => u.email ?? fmt.shortId(u.user_id);

  main.replaceChildren(
    h('h1', {}, 'Analytics'),
    h('div', { class: 'filters' },
      h('label', { for: 'analytics-window' }, 'Days', windowSelect),
      h('p', { id: 'month-totals', class: 'muted' },
        `${month}: ${fmt.int(monthly.users)} users with usage, ${fmt.int(monthly.calls)} calls, ${fmt.int(monthly.used)} units used.`)),
    h('div', { class: 'cards' },
      h('section', { class: 'card wide', id: 'growth', 'aria-labelledby': 'growth-title' },
        h('h2', { id: 'growth-title' }, 'New users and completed referrals per day'),
        growthChart,
        numbersTable('Numbers by day', ['Day', 'New users', 'Completed referrals'],
          daily.days.map(d => [d.day, fmt.int(d.new_users), fmt.int(d.completed_referrals)]))),
      h('section', { class: 'card wide', id: 'events', 'aria-labelledby': 'events-title' },
        h('h2', { id: 'events-title' }, 'Events per day by provider'),
        eventsChart,
        numbersTable('Numbers by day', ['Day', ...PROVIDERS, 'all'],
          daily.days.map(d => [d.day, ...PROVIDERS.map(p => fmt.int(d.events_by_provider[p] ?? 0)), fmt.int(d.events)]))),
      h('section', { class: 'card', id: 'states', 'aria-labelledby': 'states-title' },
        h('h2', { id: 'states-title' }, `Users per state in ${month}`),
        statesChart,
        numbersTable('Numbers', ['State', 'Users'], states.map(s => [stateBadge(s), fmt.int(monthly.users_by_state[s] ?? 0)]))),
      h('section', { class: 'card', id: 'top', 'aria-labelledby': 'top-title' },
        h('h2', { id: 'top-title' }, `Top ${TOP} users in ${month}`),
        topChart,
        numbersTable('Numbers', ['User', 'Used', 'Limit', 'State'],
          top.map(u => [h('a', { href: `#/users/${u.user_id}` }, name(u)), fmt.int(u.used), fmt.int(u.effective_limit), stateBadge(u.state)])))));

  lineDays(growthChart, dayList, [
    { label: 'New users', values: daily.days.map(d => d.new_users), color: COLORS.newUsers },
    { label: 'Completed referrals', values: daily.days.map(d => d.completed_referrals), color: COLORS.referrals },
  ]);
  stackedDays(eventsChart, dayList, PROVIDERS.map(p => ({ label: p, values: daily.days.map(d => d.events_by_provider[p] ?? 0), color: COLORS[p] })));
  categoryBars(statesChart, states.map(s => ({ label: s, value: monthly.users_by_state[s] ?? 0, color: COLORS[s] })), { xLabel: 'State' });
  if (top.length) {
    rankedBars(topChart, top.map(name),
      { label: 'Used', values: top.map(u => u.used), color: COLORS.accent },
      { label: 'Effective limit', values: top.map(u => u.effective_limit), color: COLORS.exceeded });
  }
}
