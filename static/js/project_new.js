// New-project page: the modality's label form (or one generated from its label-config JSON Schema) and workflow.
import { api, toast } from './api.js';
import { schemaForm } from './schema_form.js';

const modalities = JSON.parse(document.getElementById('modalities-data').textContent);
const select = document.getElementById('modality');
const container = document.getElementById('config-form');
let form = null;

// The modality's own label form when its UI module has one (notes, labels); else a form from the JSON Schema.
async function render() {
  const m = modalities.find((x) => x.name === select.value);
  document.getElementById('modality-description').textContent = m.description;
  container.replaceChildren();
  const module = m.ui_module_url ? await import(m.ui_module_url).catch(() => null) : null;
  if (select.value !== m.name) return;  // the choice changed while the module loaded
  if (module && module.editConfig) {
    form = module.editConfig(container, JSON.parse(JSON.stringify(m.default_label_config)));
  } else {
    form = schemaForm(m.label_config_schema, m.default_label_config);
    container.replaceChildren(form.element);
  }
}

select.addEventListener('change', () => render().catch((e) => toast(e.message, 'error')));
render().catch((e) => toast(e.message, 'error'));

document.getElementById('project-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const f = e.target;
  const error = document.getElementById('form-error');
  error.hidden = true;
  let labelConfig;
  try { labelConfig = form.value(); } catch (err) { error.textContent = err.message; error.hidden = false; return; }
  const body = {
    name: f.name.value.trim(), description: f.description.value, modality: select.value, label_config: labelConfig,
    workflow: {
      annotators_per_item: Number(f.annotators_per_item.value), peer_review: f.peer_review.checked,
      auto_preannotate: f.auto_preannotate.checked,
    },
  };
  try {
    const project = await api('POST', '/projects', body);
    window.location.href = `/projects/${project.id}`;
  } catch (err) {
    error.textContent = err.message; error.hidden = false; toast(err.message, 'error');
  }
});
