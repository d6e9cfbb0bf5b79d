// Project settings: the workflow (k, review, consensus per layer, adjudication, ordering) and members.
import { api, toast, h } from './api.js';

const root = document.getElementById('settings');
const projectId = root.dataset.projectId;
const modality = JSON.parse(document.getElementById('modality').textContent);
const form = document.getElementById('workflow-form');
const layers = modality.consensus_layers || [];

function fill(workflow) {
  for (const el of form.elements) {
    if (!el.name || !(el.name in workflow)) continue;
    if (el.type === 'checkbox') el.checked = Boolean(workflow[el.name]);
    else el.value = workflow[el.name];
  }
  const box = document.getElementById('layer-thresholds');
  box.replaceChildren();
  if (layers.length > 1) {
    box.append(h('p', { class: 'small muted' }, 'Per layer (empty: the threshold above)'));
    for (const layer of layers) {
      const value = (workflow.consensus_layer_thresholds || {})[layer];
      box.append(h('label', {}, `${layer} `, h('input', { type: 'number', min: 0, max: 1, step: 0.01, class: 'layer-threshold',
        name: `layer:${layer}`, dataset: { layer }, value: value ?? '' })));
    }
  }
}

function read() {
  const out = { consensus_layer_thresholds: {} };
  for (const el of form.elements) {
    if (!el.name) continue;
    if (el.name.startsWith('layer:')) {
      if (el.value !== '') out.consensus_layer_thresholds[el.dataset.layer] = Number(el.value);
    } else if (el.type === 'checkbox') out[el.name] = el.checked;
    else if (el.type === 'number') out[el.name] = Number(el.value);
    else out[el.name] = el.value;
  }
  return out;
}

async function loadMembers() {
  const data = await api('GET', `/projects/${projectId}/members`);
  const canEdit = root.dataset.canMembers === 'true';
  document.querySelector('#members tbody').replaceChildren(...data.items.map((m) => h('tr', { dataset: { username: m.username } },
    h('td', {}, m.username), h('td', {}, m.role), h('td', {}, String(m.active_leases)),
    h('td', {}, canEdit ? h('button', { type: 'button', class: 'remove-member', onclick: () => remove(m) }, 'Remove') : ''))));
}

async function remove(member) {
  const held = member.active_leases ? ` The ${member.active_leases} item(s) they hold go back to the queue.` : '';
  if (!window.confirm(`Remove ${member.username} from this project?${held}`)) return;
  try {
    await api('DELETE', `/projects/${projectId}/members`, { username: member.username });
    toast(`${member.username} removed`);
    await loadMembers();
  } catch (e) { toast(e.message, 'error'); }
}

form.addEventListener('submit', async (e) => {
  e.preventDefault();
  try {
    const project = await api('PATCH', `/projects/${projectId}`, { workflow: read() });
    fill(project.workflow);
    toast('Workflow saved');
  } catch (err) { toast(err.message, 'error'); }
});

document.getElementById('member-form')?.addEventListener('submit', async (e) => {
  e.preventDefault();
  const username = document.getElementById('member-username').value.trim();
  try {
    await api('POST', `/projects/${projectId}/members`, { username, role: document.getElementById('member-role').value });
    toast(`${username} is now a member`);
    e.target.reset();
    await loadMembers();
  } catch (err) { toast(err.message, 'error'); }
});

const configForm = document.getElementById('label-config-form');
let configEditor = null;

async function loadLabelConfig(project) {
  const module = await import(configForm.dataset.uiModule);
  const box = document.getElementById('label-config-editor');
  box.replaceChildren();
  if (module.editConfig) configEditor = module.editConfig(box, project.label_config);
  else {  // a modality without its own form: the configuration as JSON, validated by the server on save
    const area = h('textarea', { id: 'label-config-json', rows: 16, cols: 60 });
    area.value = JSON.stringify(project.label_config, null, 2);
    box.append(area);
    configEditor = { value: () => JSON.parse(area.value) };
  }
}

configForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  try {
    const project = await api('PATCH', `/projects/${projectId}`, { label_config: configEditor.value() });
    await loadLabelConfig(project);
    toast('Labels saved');
  } catch (err) { toast(err.message, 'error'); }
});

api('GET', `/projects/${projectId}`).then((p) => { fill(p.workflow); return loadLabelConfig(p); })
  .catch((e) => toast(e.message, 'error'));
loadMembers().catch((e) => toast(e.message, 'error'));
