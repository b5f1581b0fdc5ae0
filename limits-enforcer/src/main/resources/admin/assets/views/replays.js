// Replays: start one for a month (POST /v1/admin/replay), then watch it (GET /v1/admin/replay/{job_id})
// until it ends, and list the per-user differences it found. The job id is in the fragment (#/replays/<id>).

import { get, post } from '../api.js';
import { currentMonth, errorBox, fmt, h } from '../dom.js';

const POLL_MS = 500;

export async function replaysView(main, jobId, view) {
  const month = h('input', { type: 'month', id: 'replay-month', name: 'month', value: currentMonth(), required: true });
  const dryRun = h('input', { type: 'checkbox', id: 'replay-dry-run', name: 'dry_run', checked: true });
  const status = h('div', { id: 'replay-status', 'aria-live': 'polite' });
  const job = h('section', { id: 'replay-job' });
  const start = h('button', { type: 'submit', class: 'primary', id: 'replay-start' }, 'Start replay');

  main.replaceChildren(
    h('h1', {}, 'Replays'),
    h('p', { class: 'muted' }, 'A replay rebuilds a month’s summaries and limit state from the event log. A dry run ',
      'compares and changes nothing; a real one repairs what differs.'),
    h('form', { class: 'filters', id: 'replay-form', onsubmit: async (e) => {
      e.preventDefault();
      if (!dryRun.checked && !(await confirmReal(month.value))) return;
      start.disabled = true;
      status.replaceChildren(h('p', { class: 'muted' }, 'Starting…'));
      try {
        const answer = await post('/v1/admin/replay', { month: month.value, dry_run: dryRun.checked });
        status.replaceChildren();
        location.hash = `#/replays/${answer.job_id}`;
      } catch (err) {
        status.replaceChildren(errorBox(err));
      } finally {
        start.disabled = false;
      }
    } },
    h('label', { for: 'replay-month' }, 'Month', month),
    h('label', { class: 'check', for: 'replay-dry-run' }, dryRun, 'Dry run (change nothing)'),
    start),
    status, job);

  if (jobId) {
    await watch(jobId, job, view);
  }
}

/** A real replay rewrites rows: the admin confirms, in a dialog that Escape cancels. */
function confirmReal(month) {
  return new Promise(resolve => {
    const yes = h('button', { type: 'button', class: 'primary danger', id: 'replay-confirm' }, 'Replay and repair');
    const no = h('button', { type: 'button', id: 'replay-cancel' }, 'Cancel');
    const dialog = h('dialog', { id: 'replay-confirm-dialog', 'aria-label': 'Confirm the replay' },
      h('h2', {}, `Replay ${month} for real?`),
      h('p', {}, 'Summaries and rows that differ from the event log are rewritten. Limit checks of the month answer ',
        h('em', {}, 'stale'), ' until it ends.'),
      h('div', { class: 'buttons' }, no, yes));
    document.body.append(dialog);
    let answer = false;
    yes.addEventListener('click', () => { answer = true; dialog.close(); });
    no.addEventListener('click', () => dialog.close());
    dialog.addEventListener('close', () => { dialog.remove(); resolve(answer); });
    dialog.showModal();
    no.focus();
  });
}

async function watch(jobId, el, view) {
  for (;;) {
    let job;
    try {
      job = await get(`/v1/admin/replay/${encodeURIComponent(jobId)}`);
    } catch (e) {
      if (view.alive()) el.replaceChildren(errorBox(e));
      return;
    }
    if (!view.alive()) return;
    el.replaceChildren(describe(job));
    if (job.state !== 'running') return;
    await new Promise(resolve => setTimeout(resolve, POLL_MS));
    if (!view.alive()) return;
  }
}

function describe(job) {
  const p = job.progress;
  const range = job.range.first_month === job.range.last_month ? job.range.first_month
    : `${job.range.first_month} to ${job.range.last_month}`;
  const fraction = p && p.records_total > 0 ? Math.min(1, p.records_read / p.records_total) : (job.state === 'running' ? 0 : 1);
  return h('div', { class: 'card', dataset: { state: job.state } },
    h('h2', {}, `${job.dry_run ? 'Dry run' : 'Replay'} of ${range}`),
    h('p', { class: 'muted' }, 'Job ', h('code', { id: 'replay-job-id' }, job.job_id), `, started ${fmt.dateTime(job.started_at)}`),
    h('div', { class: 'progress-line' },
      h('progress', { id: 'replay-progress', max: 1, value: fraction, 'aria-label': 'Progress' }),
      h('span', { id: 'replay-state', class: `badge state-${job.state === 'succeeded' ? 'ok' : job.state === 'running' ? 'warning' : 'exceeded'}` }, job.state),
      p ? h('span', { id: 'replay-progress-text' }, `${p.phase}: ${fmt.int(p.records_read)} of ${fmt.int(p.records_total)} records`,
        p.records_per_second ? `, ${fmt.int(Math.round(p.records_per_second))} records/s` : '') : null),
    job.error ? errorBox({ error: job.error }) : null,
    job.report ? report(job.report) : null);
}

function report(r) {
  const changes = r.changes ?? [];
  const units = (s) => (s ? fmt.int(s.units) : '–');
  return h('div', { id: 'replay-report' },
    h('dl', { class: 'facts' },
      h('dt', {}, 'Records read'), h('dd', { id: 'report-records' }, fmt.int(r.records_read)),
      h('dt', {}, 'Summaries rebuilt'), h('dd', { id: 'report-rebuilt' }, fmt.int(r.summaries_rebuilt)),
      h('dt', {}, 'Users and months that differ'), h('dd', { id: 'report-changes' }, fmt.int(changes.length)),
      h('dt', {}, r.dry_run ? 'Rows that would be repaired' : 'Rows repaired'),
      h('dd', { id: 'report-repaired' }, fmt.int(r.dry_run ? changes.filter(c => c.kind === 'database_repaired').length : r.rows_repaired))),
    changes.length
      ? h('div', { class: 'table-wrap' }, h('table', { id: 'replay-changes' },
        h('thead', {}, h('tr', {},
          ['User', 'Month', 'Difference', 'Units in the stream', 'Units in PostgreSQL', 'Units rebuilt from the log']
            .map((x, i) => h('th', { scope: 'col', class: i > 2 ? 'num' : null }, x)))),
        h('tbody', {}, changes.map(c => h('tr', {},
          h('td', {}, h('a', { href: `#/users/${c.key.user_id}` }, fmt.shortId(c.key.user_id))),
          h('td', {}, c.key.month),
          h('td', {}, c.kind === 'database_repaired' ? 'PostgreSQL differs' : 'the stream differs'),
          h('td', { class: 'num' }, units(c.stream)),
          h('td', { class: 'num' }, units(c.database)),
          h('td', { class: 'num' }, units(c.rebuilt)))))))
      : h('p', { id: 'replay-no-changes' }, 'No differences: the stream and PostgreSQL agree with the event log.'));
}
