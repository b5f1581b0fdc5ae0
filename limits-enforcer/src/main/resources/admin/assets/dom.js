// Builds DOM nodes from data. Text always goes in as text, never as HTML, and styles through the CSSOM,
// which the page's Content-Security-Policy allows (it forbids inline scripts and style attributes).

/** h('a', {href: '#/users', class: 'x', onclick: fn}, 'text', child, [more]) */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value == null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'style') Object.assign(el.style, value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'value') el.value = value;
    else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** A state in colour and in words: ok, warning, exceeded. */
export function stateBadge(state) {
  return h('span', { class: `state state-${state}`, 'data-state': state }, state);
}

/** used / limit with a bar coloured by the state the API gave. */
export function usageBar(used, limit, state, percent) {
  const share = percent != null ? Number(percent) : (limit > 0 ? (100 * used) / limit : 100);
  return h('div', { class: 'usage' },
    h('span', { class: 'figures' }, `${fmt.int(used)} / ${fmt.int(limit)}`),
    h('div', { class: 'bar', role: 'img', 'aria-label': `${fmt.pct(share)} of the limit used` },
      h('div', { class: `fill ${state}`, style: { width: `${Math.min(100, Math.max(0, share))}%` } })));
}

/** The API's refusal as the API worded it: the error and each detail. */
export function errorBox(err) {
  const details = (err.details ?? []).map(d => typeof d === 'string' ? d
    : d && d.field ? `${d.field}: ${d.message ?? ''}` : JSON.stringify(d));
  return h('div', { class: 'error', role: 'alert' },
    h('strong', {}, err.status ? `${err.status}: ` : '', err.error ?? err.message ?? String(err)),
    details.length ? h('ul', {}, details.map(d => h('li', {}, d))) : null);
}

/** A table of numbers under a chart, for keyboards, screen readers and exact figures. */
export function numbersTable(caption, headers, rows) {
  return h('details', { class: 'numbers' },
    h('summary', {}, caption),
    h('div', { class: 'table-wrap' },
      h('table', {},
        h('thead', {}, h('tr', {}, headers.map((x, i) => h('th', { class: i ? 'num' : null, scope: 'col' }, x)))),
        h('tbody', {}, rows.map(r => h('tr', {}, r.map((x, i) => h(i ? 'td' : 'th', { class: i ? 'num' : null, scope: i ? null : 'row' }, x))))))));
}

export const fmt = {
  int: (n) => n == null ? '–' : Number(n).toLocaleString('en-US'),
  pct: (n) => n == null ? '–' : `${Number(n).toLocaleString('en-US', { maximumFractionDigits: 1 })} %`,
  multiplier: (m) => `+${Number(m * 100).toLocaleString('en-US', { maximumFractionDigits: 0 })} %`,
  dateTime: (iso) => iso ? new Date(iso).toISOString().replace('T', ' ').replace(/\.\d+Z$|Z$/, ' UTC') : '–',
  ago: (iso) => {
    if (!iso) return 'never';
    const seconds = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
    if (seconds < 60) return 'just now';
    if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
    if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
    return `${Math.floor(seconds / 86400)} d ago`;
  },
  shortId: (id) => id ? `${id.slice(0, 8)}…` : '',
};

/** A <time> showing how long ago, with the exact instant on hover. */
export function timeAgo(iso) {
  return iso ? h('time', { datetime: iso, title: fmt.dateTime(iso) }, fmt.ago(iso)) : h('span', { class: 'muted' }, 'never');
}

/** The current UTC month, YYYY-MM. */
export function currentMonth() {
  return new Date().toISOString().slice(0, 7);
}
