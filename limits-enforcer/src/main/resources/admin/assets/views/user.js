// One user: the limit explained (GET /v1/limits), the month by day (GET /v1/admin/users/{id}/usage-by-day)
// and by provider (GET /v1/usage), their referrals (GET /v1/admin/users/{id}), and the admin actions.

import { get, post, put } from '../api.js';
import { COLORS, stackedDays } from '../charts.js';
import { currentMonth, errorBox, fmt, h, numbersTable, stateBadge, timeAgo, usageBar } from '../dom.js';

/** How long an applied action waits for the stream to show its effect. */
const STREAM_WAIT_MS = 20000;
const POLL_MS = 500;

export async function userView(main, userId, view) {
  const month = currentMonth();
  const [limit, usage, profile, byDay] = await Promise.all([
    get(`/v1/limits/${userId}`),
    get(`/v1/usage/${userId}?month=${month}`),
    get(`/v1/admin/users/${userId}`).catch(e => (e.status === 404 ? null : Promise.reject(e))),
    get(`/v1/admin/users/${userId}/usage-by-day?month=${month}`),
  ]);
  if (!view.alive()) return;
  const rerender = () => view.alive() && userView(main, userId, view);

  const limitCard = h('section', { class: 'card', id: 'limit', 'aria-labelledby': 'limit-title' },
    h('h2', { id: 'limit-title' }, 'The limit, explained'),
    limitFacts(limit));

  const chart = h('div', { class: 'chart', id: 'usage-chart' });
  const excluded = byDay.days.map(d => d.units - d.counted_units);
  const dayCard = h('section', { class: 'card wide', id: 'by-day', 'aria-labelledby': 'by-day-title' },
    h('h2', { id: 'by-day-title' }, `Usage in ${byDay.month} by day`),
    byDay.reset_at ? h('p', { class: 'muted' }, `Usage reset at ${fmt.dateTime(byDay.reset_at)}: only later events count.`) : null,
    chart,
    numbersTable('Numbers by day', ['Day', 'Calls', 'Units', 'Units counted'],
      byDay.days.map(d => [d.day, fmt.int(d.calls), fmt.int(d.units), fmt.int(d.counted_units)])));

  main.replaceChildren(
    h('a', { class: 'back', href: '#/users' }, '← Users'),
    h('h1', { id: 'user-title' }, profile?.email ?? userId),
    h('div', { class: 'subtitle' },
      h('code', { id: 'user-id' }, userId),
      h('span', { class: 'badge', id: 'user-plan' }, `plan ${limit.plan}`),
      stateBadge(limit.state),
      limit.stale ? h('span', { class: 'badge stale', id: 'stale', title: 'served by a standby copy or while the owner restores' }, 'stale') : null),
    h('div', { class: 'cards' },
      limitCard,
      h('section', { class: 'card', id: 'actions', 'aria-labelledby': 'actions-title' },
        h('h2', { id: 'actions-title' }, 'Actions'),
        h('p', { class: 'muted' }, 'Each action shows its effect first and asks to confirm.'),
        h('div', { class: 'actions' },
          h('button', { type: 'button', id: 'action-credits', onclick: () => creditsDialog(userId, limit, rerender) }, 'Add credits…'),
          h('button', { type: 'button', id: 'action-reset', onclick: () => resetDialog(userId, limit, rerender) }, 'Reset usage…'),
          h('button', { type: 'button', id: 'action-plan', onclick: () => planDialog(userId, limit, rerender) }, 'Change plan…'))),
      dayCard,
      providersCard(usage),
      referralsCard(profile)));

  if (byDay.days.length) {
    stackedDays(chart, byDay.days.map(d => d.day), [
      { label: 'Units counted', values: byDay.days.map(d => d.counted_units), color: COLORS.accent },
      { label: 'Units before the reset', values: excluded, color: COLORS.excluded },
    ]);
  }
}

function limitFacts(limit) {
  const fact = (id, term, ...value) => [h('dt', {}, term), h('dd', { id }, ...value)];
  return h('div', {},
    usageBar(limit.used, limit.effective_limit, limit.state),
    h('dl', { class: 'facts' },
      fact('fact-plan', 'Plan', limit.plan, ' (', fmt.int(limit.plan_units), ' units a month)'),
      fact('fact-referrals', 'Referrals', fmt.int(limit.referral_count), ' completed, multiplier ', fmt.multiplier(limit.multiplier)),
      fact('fact-bonus', 'Bonus credits', fmt.int(limit.bonus_credits)),
      fact('fact-effective', 'Effective limit', h('strong', {}, fmt.int(limit.effective_limit)),
        h('div', { class: 'formula' }, `⌊${fmt.int(limit.plan_units)} × (1 + ${limit.multiplier})⌋ + ${fmt.int(limit.bonus_credits)}`)),
      fact('fact-used', 'Used', fmt.int(limit.used)),
      fact('fact-remaining', 'Remaining', fmt.int(limit.remaining)),
      fact('fact-state', 'State', stateBadge(limit.state), limit.allowed ? '' : ' (calls refused)'),
      fact('fact-as-of', 'As of', limit.as_of ? fmt.dateTime(limit.as_of) : 'no event yet',
        ' ', limit.stale ? h('span', { class: 'badge stale' }, 'stale') : h('span', { class: 'badge' }, 'fresh')),
      fact('fact-resets', 'Resets', fmt.dateTime(limit.resets_at))));
}

function providersCard(usage) {
  const entries = Object.entries(usage.calls_by_provider ?? {}).sort((a, b) => b[1] - a[1]);
  const max = Math.max(1, ...entries.map(([, n]) => n));
  return h('section', { class: 'card', id: 'by-provider', 'aria-labelledby': 'by-provider-title' },
    h('h2', { id: 'by-provider-title' }, `Calls in ${usage.month} by provider`),
    entries.length
      ? h('div', { class: 'hbars' }, entries.map(([provider, calls]) => [
        h('span', {}, provider),
        h('div', { class: 'bar', role: 'img', 'aria-label': `${provider}: ${calls} calls` },
          h('div', { class: 'fill', style: { width: `${(100 * calls) / max}%` } })),
        h('span', { class: 'num', dataset: { provider } }, fmt.int(calls))]))
      : h('p', { class: 'muted' }, 'No calls this month.'),
    h('p', { class: 'muted' }, `${fmt.int(usage.calls)} calls (${fmt.int(usage.failed_calls)} failed), ${fmt.int(usage.units)} units, `
      + `${fmt.int(usage.tokens)} tokens.`));
}

function referralsCard(profile) {
  if (!profile) {
    return h('section', { class: 'card', id: 'referrals' }, h('h2', {}, 'Referrals'),
      h('p', { class: 'muted' }, 'PostgreSQL has no row for this user yet.'));
  }
  const by = profile.referred_by;
  return h('section', { class: 'card', id: 'referrals', 'aria-labelledby': 'referrals-title' },
    h('h2', { id: 'referrals-title' }, 'Referrals'),
    h('p', { id: 'referred-by' }, by
      ? ['Referred by ', h('a', { href: `#/users/${by.referrer_id}` }, by.other_email ?? fmt.shortId(by.referrer_id)),
        ` (${by.status}${by.completed_at ? `, ${fmt.dateTime(by.completed_at)}` : ''})`]
      : 'Not referred by anyone.'),
    h('p', {}, `Made ${profile.referrals_made.length}:`),
    profile.referrals_made.length
      ? h('div', { class: 'table-wrap' }, h('table', { id: 'referrals-made' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Referred user'), h('th', { scope: 'col' }, 'Status'), h('th', { scope: 'col' }, 'Completed'))),
        h('tbody', {}, profile.referrals_made.map(r => h('tr', {},
          h('td', {}, h('a', { href: `#/users/${r.referred_id}` }, r.other_email ?? fmt.shortId(r.referred_id))),
          h('td', {}, r.status),
          h('td', {}, r.completed_at ? timeAgo(r.completed_at) : '–'))))))
      : null);
}

// ---- actions: preview (the API's dry run), confirm, apply, then wait for the stream to show the change

/**
 * A dialog for one action.
 *
 * @param fields the inputs of the action
 * @param request (values, dryRun) => the API call
 * @param effect (preview) => rows [label, before, after] of what the dry run says will change
 */
function actionDialog({ id, title, fields, request, effect, before, onDone, autoPreview = false }) {
  const result = h('div', { class: 'effect-area', 'aria-live': 'polite' });
  // The form's submit button: a click or Enter in a field asks for the effect.
  const previewButton = h('button', { type: 'submit', id: `${id}-preview` }, 'Show the effect');
  const applyButton = h('button', { type: 'button', class: 'primary', id: `${id}-apply`, disabled: true }, 'Apply');
  const closeButton = h('button', { type: 'button', id: `${id}-close` }, 'Cancel');
  const form = h('form', { method: 'dialog', onsubmit: (e) => { e.preventDefault(); preview(); } },
    h('h2', {}, title), fields, result, h('div', { class: 'buttons' }, closeButton, previewButton, applyButton));
  const dialog = h('dialog', { id: `${id}-dialog`, 'aria-label': title }, form);
  document.body.append(dialog);
  dialog.addEventListener('close', () => dialog.remove());
  closeButton.addEventListener('click', () => dialog.close());
  const values = () => Object.fromEntries(fields.filter(f => f.name).map(f => [f.name, f.value]));
  for (const input of fields) {
    input.addEventListener?.('input', () => { applyButton.disabled = true; });
  }

  async function preview() {
    applyButton.disabled = true;
    result.replaceChildren(h('p', { class: 'muted' }, 'Asking the API for the effect…'));
    try {
      const answer = await request(values(), true);
      result.replaceChildren(h('table', { class: 'effect', id: `${id}-effect` },
        h('thead', {}, h('tr', {}, h('th', {}, ''), h('th', { class: 'num' }, 'Now'), h('th', { class: 'num' }, 'After'))),
        h('tbody', {}, effect(answer).map(([label, now, after]) => h('tr', {},
          h('th', { scope: 'row' }, label), h('td', { class: 'num' }, now), h('td', { class: 'num' }, after))))));
      applyButton.disabled = false;
      applyButton.focus();
    } catch (e) {
      result.replaceChildren(errorBox(e));
    }
  }

  applyButton.addEventListener('click', async () => {
    applyButton.disabled = true;
    previewButton.disabled = true;
    const status = h('p', { id: `${id}-status` }, 'Applying…');
    result.append(status);
    try {
      const accepted = await request(values(), false);
      status.textContent = `Accepted (command ${accepted.command_id}). Waiting for the stream to show it…`;
      const now = await awaitChange(before);
      status.replaceChildren(now.changed
        ? h('span', { id: `${id}-done` }, 'Done: now ', h('strong', {}, `${fmt.int(now.limit.used)} of ${fmt.int(now.limit.effective_limit)} used`),
          ', ', stateBadge(now.limit.state), '.')
        : h('span', { id: `${id}-done` }, `Not visible in the stream after ${STREAM_WAIT_MS / 1000} s; it will show once the stream catches up.`));
      closeButton.textContent = 'Close';
      closeButton.focus();
      onDone();
    } catch (e) {
      status.remove();
      result.append(errorBox(e));
      previewButton.disabled = false;
    }
  });

  dialog.showModal();
  if (autoPreview) preview();
  else fields.find(f => f.focus)?.focus();
}

/** Polls the limit until what the action touches differs from before it, or the wait is over. */
async function awaitChange(before) {
  const key = (l) => JSON.stringify([l.plan, l.plan_units, l.bonus_credits, l.effective_limit, l.used, l.state]);
  const deadline = Date.now() + STREAM_WAIT_MS;
  let limit = before;
  while (Date.now() < deadline) {
    await new Promise(resolve => setTimeout(resolve, POLL_MS));
    limit = await get(`/v1/limits/${before.user_id}`);
    if (key(limit) !== key(before)) {
      return { changed: true, limit };
    }
  }
  return { changed: false, limit };
}

function snapshotRows(p) {
  return [
    ['Used', fmt.int(p.before.used), fmt.int(p.after.used)],
    ['Effective limit', fmt.int(p.before.effective_limit), fmt.int(p.after.effective_limit)],
    ['Remaining', fmt.int(p.before.remaining), fmt.int(p.after.remaining)],
    ['State', stateBadge(p.before.state), stateBadge(p.after.state)],
  ];
}

function creditsDialog(userId, limit, onDone) {
  const amount = h('input', { type: 'number', id: 'credits-amount', name: 'amount', value: '100', step: '1', inputmode: 'numeric' });
  actionDialog({
    id: 'credits', title: 'Add bonus credits', before: limit, onDone,
    fields: [h('label', { for: 'credits-amount' }, 'Credits to add (every month, on top of the plan)'), amount],
    request: (v, dryRun) => post(`/v1/admin/users/${userId}/credits`, { amount: Number(v.amount), dry_run: dryRun }),
    effect: (p) => [['Bonus credits', fmt.int(p.bonus_credits_before), fmt.int(p.bonus_credits_after)], ...snapshotRows(p)],
  });
}

function resetDialog(userId, limit, onDone) {
  const month = h('input', { type: 'month', id: 'reset-month', name: 'month', value: currentMonth() });
  actionDialog({
    id: 'reset', title: 'Reset usage', before: limit, onDone, autoPreview: true,
    fields: [h('label', { for: 'reset-month' }, 'Month (from now on only later events count)'), month],
    request: (v, dryRun) => post(`/v1/admin/users/${userId}/reset-usage`, { month: v.month, dry_run: dryRun }),
    effect: (p) => snapshotRows(p),
  });
}

async function planDialog(userId, limit, onDone) {
  const select = h('select', { id: 'plan-choice', name: 'plan' });
  try {
    const { plans } = await get('/v1/admin/plans');
    plans.sort((a, b) => a.monthly_units - b.monthly_units);
    select.replaceChildren(...plans.map(p => h('option', { value: p.plan, selected: p.plan === limit.plan },
      `${p.plan} (${fmt.int(p.monthly_units)} units a month)`)));
  } catch (e) {
    select.replaceChildren(h('option', { value: limit.plan }, limit.plan));
  }
  actionDialog({
    id: 'plan', title: 'Change plan', before: limit, onDone,
    fields: [h('label', { for: 'plan-choice' }, 'New plan'), select],
    request: (v, dryRun) => put(`/v1/admin/users/${userId}/plan`, { plan: v.plan, dry_run: dryRun }),
    effect: (p) => [['Plan', p.plan_before, p.plan_after], ['Plan units', fmt.int(p.plan_units_before), fmt.int(p.plan_units_after)],
      ...snapshotRows(p)],
  });
}
