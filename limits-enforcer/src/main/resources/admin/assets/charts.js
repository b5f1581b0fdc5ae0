// Charts drawn with uPlot (from its WebJar, served by the enforcer; the version comes from the parent pom).
// Each shows its numbers on hover in its legend; the views put the same numbers in a table under it.

import uPlot from '/admin/vendor/uplot/@uplot.version@/dist/uPlot.esm.js';
import { fmt } from './dom.js';

export const COLORS = {
  ok: '#1a7f37', warning: '#d4a72c', exceeded: '#cf222e', accent: '#0969da', muted: '#8c959f',
  openai: '#0969da', anthropic: '#bc4c00', github: '#1f2328', gemini: '#8250df', other: '#8c959f',
  newUsers: '#0969da', referrals: '#1a7f37', excluded: '#d0d7de',
};

const DAY = 86400;

/** Seconds since the epoch of a day YYYY-MM-DD at 00:00 UTC: the x of a daily chart. */
export function dayX(day) {
  return Date.parse(`${day}T00:00:00Z`) / 1000;
}

function width(el) {
  return Math.max(280, Math.floor(el.getBoundingClientRect().width || el.parentElement.getBoundingClientRect().width || 600));
}

/** Redraws at the container's width when the window changes size. */
function responsive(plot, el) {
  const observer = new ResizeObserver(() => plot.setSize({ width: width(el), height: plot.height }));
  observer.observe(el);
  return plot;
}

const intValue = (u, v) => v == null ? '–' : fmt.int(v);
const dayValue = (u, v) => v == null ? '–' : new Date(v * 1000).toISOString().slice(0, 10);

function dayAxis() {
  return {
    values: (u, splits) => splits.map(s => new Date(s * 1000).toISOString().slice(5, 10)),
    space: 48,
  };
}

/**
 * Bars per UTC day, one or more series stacked (each bar is the sum; the legend shows each series' own
 * number for the hovered day).
 *
 * @param series [{label, values, color}], bottom first
 */
export function stackedDays(el, days, series, { height = 260 } = {}) {
  const x = days.map(dayX);
  const stacked = [];
  let running = days.map(() => 0);
  for (const s of series) {
    running = running.map((r, i) => r + (s.values[i] ?? 0));
    stacked.push(running.slice());
  }
  const bars = uPlot.paths.bars({ size: [0.7, 40] });
  const opts = {
    width: width(el), height,
    scales: { x: { time: true, range: (u, min, max) => [min - DAY / 2, max + DAY / 2] }, y: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] } },
    axes: [dayAxis(), { values: (u, splits) => splits.map(v => fmt.int(v)), size: 56 }],
    series: [
      { label: 'Day', value: dayValue },
      // Drawn top of the stack first, so each lower series paints over the one above it.
      ...series.map((s, i) => ({
        label: s.label, fill: s.color, stroke: s.color, width: 0, paths: bars, points: { show: false },
        value: (u, v, si, idx) => idx == null ? '–' : fmt.int(series[i].values[idx] ?? 0),
      })),
    ],
    cursor: { points: { show: false } },
    legend: { live: true },
  };
  // uPlot paints series in order: reverse so the tallest (the whole stack) is behind the others.
  const order = series.map((_, i) => i).reverse();
  opts.series = [opts.series[0], ...order.map(i => opts.series[i + 1])];
  const data = [x, ...order.map(i => stacked[i])];
  return responsive(new uPlot(opts, data, el), el);
}

/** Lines with points per UTC day, each series its own count. */
export function lineDays(el, days, series, { height = 240 } = {}) {
  const opts = {
    width: width(el), height,
    scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, max * 1.15)] } },
    axes: [dayAxis(), { values: (u, splits) => splits.map(v => fmt.int(v)), size: 48 }],
    series: [
      { label: 'Day', value: dayValue },
      ...series.map(s => ({ label: s.label, stroke: s.color, width: 2, points: { size: 6, fill: s.color }, value: intValue })),
    ],
    legend: { live: true },
  };
  return responsive(new uPlot(opts, [days.map(dayX), ...series.map(s => s.values)], el), el);
}

/**
 * One bar per category (x = 0, 1, 2 …), each category its own series so that it has its own colour and its
 * own legend entry.
 *
 * @param categories [{label, value, color}]
 */
export function categoryBars(el, categories, { height = 240, xLabel = 'Category' } = {}) {
  const n = categories.length;
  const bars = uPlot.paths.bars({ size: [0.6, 80] });
  const opts = {
    width: width(el), height,
    scales: { x: { time: false, range: () => [-0.5, n - 0.5] }, y: { range: (u, min, max) => [0, Math.max(1, max * 1.15)] } },
    axes: [
      { values: (u, splits) => splits.map(s => Number.isInteger(s) && categories[s] ? categories[s].label : ''), splits: () => categories.map((_, i) => i) },
      { values: (u, splits) => splits.map(v => fmt.int(v)), size: 56 },
    ],
    series: [
      { label: xLabel, value: (u, v) => v == null || !categories[v] ? '–' : categories[v].label },
      ...categories.map(c => ({ label: c.label, fill: c.color, stroke: c.color, width: 0, paths: bars, points: { show: false }, value: intValue })),
    ],
    cursor: { points: { show: false } },
    legend: { live: true },
  };
  const x = categories.map((_, i) => i);
  const data = [x, ...categories.map((c, i) => x.map(j => (j === i ? c.value : null)))];
  return responsive(new uPlot(opts, data, el), el);
}

/**
 * Ranked bars (x = 1 … n) with a marker per bar, e.g. units used and the effective limit of the top users.
 *
 * @param names the label of each rank, shown in the legend on hover
 */
export function rankedBars(el, names, bar, marker, { height = 260 } = {}) {
  const n = names.length;
  const bars = uPlot.paths.bars({ size: [0.6, 60] });
  const opts = {
    width: width(el), height,
    scales: { x: { time: false, range: () => [0.5, n + 0.5] }, y: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] } },
    axes: [
      { values: (u, splits) => splits.map(s => Number.isInteger(s) ? `#${s}` : ''), splits: () => names.map((_, i) => i + 1) },
      { values: (u, splits) => splits.map(v => fmt.int(v)), size: 56 },
    ],
    series: [
      { label: 'User', value: (u, v) => v == null ? '–' : names[v - 1] ?? '–' },
      { label: bar.label, fill: bar.color, stroke: bar.color, width: 0, paths: bars, points: { show: false }, value: intValue },
      { label: marker.label, stroke: marker.color, width: 0, paths: () => null, points: { show: true, size: 9, fill: marker.color, stroke: marker.color }, value: intValue },
    ],
    legend: { live: true },
  };
  return responsive(new uPlot(opts, [names.map((_, i) => i + 1), bar.values, marker.values], el), el);
}
