const D = JSON.parse(document.getElementById('data').textContent);
// every string from the data goes through esc before it is put into HTML: names come from
// users' folders and configurations
const esc = v => String(v).replace(/[&<>"']/g, c => `&#${c.charCodeAt(0)};`);
const fmt = v => v === null || v === undefined ? '–' : (Math.abs(v) >= 100 ? v.toFixed(1) : v.toPrecision(4));
function buildTable() {
  const t = document.getElementById('metrics');
  const head = '<tr><th data-col="model">model</th>' +
    D.columns.map(c => `<th data-col="${esc(c)}">${esc(D.headings[c] || c)}</th>`).join('') + '</tr>';
  const body = D.rows.map(r => '<tr>' + `<td data-value="${esc(r.model)}">${esc(r.model)}</td>` +
    D.columns.map(c => {
      const ci = r[c + '_ci'];
      const extra = ci && ci[0] !== null ? ` <small>[${fmt(ci[0])}, ${fmt(ci[1])}]</small>` : '';
      return `<td data-value="${r[c] === null ? '' : r[c]}">${fmt(r[c])}${extra}</td>`;
    }).join('') + '</tr>').join('');
  t.innerHTML = '<thead>' + head + '</thead><tbody>' + body + '</tbody>';
  t.querySelectorAll('th').forEach((th, i) => th.addEventListener('click', () => sortBy(t, th, i)));
}
function sortBy(t, th, i) {
  const asc = !th.classList.contains('sorted-asc');
  t.querySelectorAll('th').forEach(h => h.classList.remove('sorted-asc', 'sorted-desc'));
  th.classList.add(asc ? 'sorted-asc' : 'sorted-desc');
  const rows = Array.from(t.tBodies[0].rows);
  const key = r => r.cells[i].dataset.value;
  rows.sort((a, b) => {
    const x = key(a), y = key(b), nx = parseFloat(x), ny = parseFloat(y);
    const c = (isNaN(nx) || isNaN(ny)) ? x.localeCompare(y) : nx - ny;
    return asc ? c : -c;
  });
  rows.forEach(r => t.tBodies[0].appendChild(r));
}
function buildViewer() {
  const V = D.viewer, sel = document.getElementById('image'), cmp = document.getElementById('compare');
  V.images.forEach((n, i) => sel.add(new Option(n, i)));
  V.panels.slice(2).forEach((p, i) => cmp.add(new Option(p.title, i + 2)));
  const panels = document.getElementById('panels');
  panels.innerHTML = V.panels.map((p, k) =>
    `<div class=panel><img data-panel="${k}" alt="${esc(p.title)}"><div>${esc(p.title)}</div></div>`).join('');
  const show = () => {
    const i = +sel.value;
    panels.querySelectorAll('img').forEach(img => { img.src = V.panels[+img.dataset.panel].images[i]; });
    document.getElementById('split-truth').src = V.panels[1].images[i];
    document.getElementById('split-model').src = V.panels[+cmp.value].images[i];
    const m = V.metrics[V.images[i]] || {};
    const cols = D.metrics;  // colorlib.metrics.reported(), in its order
    document.getElementById('image-metrics').innerHTML =
      '<tr><th>model</th>' + cols.map(c => `<th>${esc(D.headings[c] || c)}</th>`).join('') + '</tr>' +
      Object.entries(m).map(([model, v]) => '<tr><td>' + esc(model) + '</td>' +
        cols.map(c => `<td>${fmt(v[c])}</td>`).join('') + '</tr>').join('');
  };
  const pos = document.getElementById('split-pos');
  const split = () => {
    document.getElementById('split-model').style.clipPath = `inset(0 ${100 - pos.value}% 0 0)`;
  };
  sel.addEventListener('change', show);
  cmp.addEventListener('change', show);
  pos.addEventListener('input', split);
  if (V.images.length) { show(); split(); }
}
buildTable();
buildViewer();
