// Project page: drag-and-drop upload with progress, jobs with live progress bars.
import { api, upload, toast, h } from './api.js';
import { labelsSummary, previewImport } from './import_preview.js';

const root = document.getElementById('project');
const projectId = root.dataset.projectId;
const canManage = root.dataset.canManage === 'true';
const input = document.getElementById('file-input');  // absent for members who cannot upload
const watching = new Map();

function jobRow(job) {
  const bar = h('progress', { max: 100, value: job.progress, 'aria-label': `job ${job.id} progress` });
  const cancel = ['queued', 'running'].includes(job.status)
    ? h('button', { class: 'link', onclick: () => api('POST', `/jobs/${job.id}/cancel`).then(refreshJobs) }, 'Cancel')
    : null;
  const download = job.kind === 'export' && job.status === 'succeeded'
    ? h('a', { href: `/api/v1/exports/${job.id}/file`, class: 'download' }, 'Download') : null;
  const opts = (job.params && job.params.options) || {};
  const what = job.kind === 'export' ? `export · ${job.params.format} · ${opts.stage || 'all'}` : job.kind;
  const device = (job.result && job.result.device) || null;
  const summary = job.kind === 'server_import' && job.result
    ? h('span', { class: 'import-summary' }, ` · ${job.result.imported} imported, ${job.result.skipped_already_imported} already there, ${job.result.failed_count} failed`) : null;
  const where = h('span', { class: 'muted small job-where', title: (job.params && job.params.routing) || '' },
    ` · ${job.queue}${device ? ` (${device})` : ''}${job.params && job.params.routing ? ' · no GPU worker' : ''}`);
  return h('tr', { id: `job-${job.id}`, dataset: { status: job.status } },
    h('td', {}, `#${job.id}`), h('td', {}, h('span', { class: 'job-kind' }, what), where, summary),
    h('td', { class: `status-${job.status}` }, job.status, job.error ? ` — ${job.error}` : ''),
    h('td', {}, bar, ` ${job.progress}%`, counted(job.progress_detail)), h('td', {}, cancel, download));
}

// Long media jobs count media seconds ("1:30 of 2:00:00 media"), others items.
function counted(detail) {
  if (!detail || detail.done == null) return null;
  const clock = (s) => { s = Math.round(s); const hh = Math.floor(s / 3600), mm = Math.floor((s % 3600) / 60), ss = s % 60;
    return hh ? `${hh}:${String(mm).padStart(2, '0')}:${String(ss).padStart(2, '0')}` : `${mm}:${String(ss).padStart(2, '0')}`; };
  const media = String(detail.unit || '').includes('seconds');
  const done = media ? clock(detail.done) : Number(detail.done).toLocaleString();
  const total = detail.total != null ? ` of ${media ? clock(detail.total) : Number(detail.total).toLocaleString()}` : '';
  return h('span', { class: 'muted small job-count' }, ` · ${done}${total} ${media ? 'media' : (detail.unit || '')}`);
}

async function refreshJobs() {
  const data = await api('GET', `/projects/${projectId}/jobs?limit=10`);
  const body = document.querySelector('#jobs tbody');
  body.replaceChildren(...data.items.map(jobRow));
  const active = data.items.some((j) => ['queued', 'running'].includes(j.status));
  clearTimeout(watching.get('jobs'));
  watching.set('jobs', setTimeout(refreshJobs, active ? 500 : 5000));
}

async function startJob(kind, extra = {}) {
  try {
    const job = await api('POST', `/projects/${projectId}/jobs`, { kind, ...extra });
    toast(`Job #${job.id} (${kind}) queued`);
    refreshJobs();
  } catch (e) { toast(e.message, 'error'); }
}

// The per-file error usually names the file already ("a.txt: binary content"); don't say it twice.
function failure(f) {
  const text = f.error.startsWith(`${f.name}:`) || f.error.startsWith(`${f.name} `) ? f.error : `${f.name}: ${f.error}`;
  return h('p', { class: 'error upload-failure' }, text);
}

// Files above the threshold go through tus (resumable, chunked): a dropped connection or a reload resumes from
// the bytes the server has (tus-js-client keeps a fingerprint per file in localStorage).
const tusThreshold = Number(root.dataset.tusThresholdMb || 8) * 1024 * 1024;
const tusChunk = Number(root.dataset.tusChunkMb || 8) * 1024 * 1024;
const csrfToken = () => document.querySelector('meta[name="csrf-token"]').content;

function tusUpload(file, row) {
  return new Promise((resolve, reject) => {
    const bar = row.querySelector('progress');
    const label = row.querySelector('.tus-state');
    const job = new window.tus.Upload(file, {
      endpoint: '/api/v1/uploads',
      chunkSize: tusChunk,
      retryDelays: [0, 500, 1500, 3000, 5000],
      metadata: { filename: file.name, filetype: file.type || 'application/octet-stream', project: String(projectId) },
      headers: { 'X-CSRFToken': csrfToken() },
      storeFingerprintForResuming: true,
      removeFingerprintOnSuccess: true,
      onProgress: (sent, total) => { bar.value = Math.round((100 * sent) / total); label.textContent = `${Math.round((100 * sent) / total)}%`; },
      onError: (err) => reject(new Error(`${file.name}: ${(err && err.message) || 'upload failed'}`)),
      onSuccess: () => resolve(job.url.split('/').pop()),
    });
    job.findPreviousUploads().then((previous) => {
      if (previous.length) { job.resumeFromPreviousUpload(previous[0]); label.textContent = 'resuming…'; }
      job.start();
    });
  });
}

async function sendLargeFiles(files) {
  const list = document.getElementById('tus-uploads');
  list.hidden = false;
  const rows = files.map((f) => h('li', { class: 'tus-file', dataset: { name: f.name } },
    `${f.name} `, h('progress', { max: 100, value: 0 }), ' ', h('span', { class: 'tus-state' }, 'starting')));
  list.replaceChildren(...rows);
  const ids = [];
  for (const [i, file] of files.entries()) ids.push(await tusUpload(file, rows[i]));
  return api('POST', `/projects/${projectId}/items`, { uploads: ids });
}

// A large upload answers 202 with the job that imports it in the background (its row appears under Jobs).
const uploadSummary = (data) => (data.import_job_id
  ? `Large upload: job #${data.import_job_id} imports it in the background; the items appear as it goes.`
  : `${data.created.length} item(s) created, ${data.failed.length} failed.${labelsSummary(data.labels)}`);

async function sendFiles(files) {
  if (!files.length) return;
  const large = files.filter((f) => f.size > tusThreshold && window.tus);
  if (large.length) {
    const result = document.getElementById('upload-result');
    try {
      const data = await sendLargeFiles(large);
      result.replaceChildren(h('p', { class: 'ok', id: 'upload-summary' }, uploadSummary(data)), ...data.failed.map(failure));
    } catch (e) {
      result.replaceChildren(h('p', { class: 'error', id: 'upload-summary' }, e.message));
      return;
    }
    files = files.filter((f) => !large.includes(f));
    if (!files.length) { document.getElementById('reload-items').hidden = false; return; }
  }
  const bar = document.getElementById('upload-progress');
  const result = document.getElementById('upload-result');
  let fields = {};
  const annotated = files.some((f) => !/\.csv$/i.test(f.name));  // a .txt may be PubTator; CSV carries no spans
  if (root.dataset.labelMapping === 'true' && annotated) {  // annotated files: the manager sees labels and spans first
    result.replaceChildren(h('p', { class: 'muted', id: 'upload-summary' }, 'Reading the files…'));
    try {
      const plan = await previewImport(document.getElementById('import-preview-box'), projectId, files,
        () => upload(`/projects/${projectId}/items/preview`, files, (p) => { bar.value = p; })
          .then((data) => { result.replaceChildren(); return data; }));
      if (plan === null) { result.replaceChildren(h('p', { id: 'upload-summary' }, 'Import cancelled.')); input.value = ''; return; }
      fields = { label_plan: JSON.stringify(plan) };
    } catch (e) {
      result.replaceChildren(h('p', { class: 'error', id: 'upload-summary' }, e.message));
      input.value = '';
      return;
    }
  }
  bar.hidden = false; bar.value = 0;
  try {
    const data = await upload(`/projects/${projectId}/items`, files, (p) => { bar.value = p; }, fields);
    result.replaceChildren(h('p', { class: 'ok', id: 'upload-summary' }, uploadSummary(data)), ...data.failed.map(failure));
    // Keep the page as it is while a failure is listed; otherwise reload to show the new items.
    if (!data.failed.length) setTimeout(() => window.location.reload(), 1200);
    else document.getElementById('reload-items').hidden = false;
  } catch (e) {
    const failed = (e.body && e.body.failed) || [];
    const summary = failed.length ? `No item was created: ${failed.length} file(s) failed.` : e.message;
    result.replaceChildren(h('p', { class: 'error', id: 'upload-summary' }, summary), ...failed.map(failure));
  } finally { bar.value = 100; bar.hidden = true; input.value = ''; }
}

if (canManage) {
  const zone = document.getElementById('dropzone');
  zone.addEventListener('dragover', (e) => { e.preventDefault(); zone.classList.add('over'); });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); input.click(); } });
  zone.addEventListener('drop', (e) => { e.preventDefault(); zone.classList.remove('over'); sendFiles([...e.dataTransfer.files]); });
  input.addEventListener('change', () => sendFiles([...input.files]));
  document.getElementById('start-preannotate').addEventListener('click', () => startJob('preannotate'));
  document.getElementById('start-fit').addEventListener('click', () => startJob('fit'));
  document.getElementById('start-export').addEventListener('click', async () => {
    const format = document.getElementById('export-format').value;
    const stage = document.getElementById('export-stage').value;
    try {
      const job = await api('POST', `/projects/${projectId}/exports`, { format, options: { stage } });
      toast(`Export #${job.id} queued`);
      refreshJobs();
    } catch (e) { toast(e.message, 'error'); }
  });
  refreshJobs();
  api('GET', `/projects/${projectId}/import-roots`).then((roots) => {
    if (!roots.items.length) return;
    document.getElementById('import-root').replaceChildren(...roots.items.map((r) => h('option', { value: r.name }, r.name)));
    document.getElementById('server-import').hidden = false;
  }).catch(() => {});
  document.getElementById('start-import').addEventListener('click', async () => {
    const spec = { root: document.getElementById('import-root').value, glob: document.getElementById('import-glob').value };
    try {
      const out = await api('POST', `/projects/${projectId}/items`, { import: spec });
      toast(`Import #${out.job.id} queued`);
      refreshJobs();
    } catch (e) { toast(e.message, 'error'); }
  });
}
