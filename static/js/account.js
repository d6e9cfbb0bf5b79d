// Account page: two-factor enrolment (QR code from the server), recovery codes, password change, and for site
// admins the roles that must use two-factor login.
import { api, toast } from './api.js';

const $ = (sel) => document.querySelector(sel);
const form = (el) => Object.fromEntries(new FormData(el).entries());

async function refresh() {
  const status = await api('GET', '/me/2fa');
  $('#tfa-status').textContent = status.enabled
    ? `On. ${status.recovery_codes_left} recovery codes left.${status.required ? ' Your role requires it.' : ''}`
    : `Off.${status.required ? ' Your role requires it: set it up now.' : ''}`;
  $('#tfa-begin-form').hidden = status.enabled;
  $('#tfa-disable-form').hidden = !status.enabled || status.required;
}

$('#tfa-begin-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  try {
    const enrol = await api('POST', '/me/2fa', form(e.target));
    $('#tfa-qr').src = enrol.qr_svg_data_uri;
    $('#tfa-secret').textContent = enrol.secret;
    $('#tfa-enrol').hidden = false;
    e.target.hidden = true;
    e.target.reset();
  } catch (err) { toast(err.message, 'error'); }
});

$('#tfa-confirm-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  try {
    const done = await api('POST', '/me/2fa/confirm', form(e.target));
    const list = $('#tfa-code-list');
    list.replaceChildren(...done.recovery_codes.map((code) => {
      const li = document.createElement('li');
      li.textContent = code;
      return li;
    }));
    $('#tfa-codes').hidden = false;
    $('#tfa-enrol').hidden = true;
    const required = $('#enrol-required');
    if (required) required.remove();
    toast('Two-factor login is on.');
    await refresh();
  } catch (err) { toast(err.message, 'error'); }
});

$('#tfa-disable-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  try {
    await api('DELETE', '/me/2fa', form(e.target));
    e.target.reset();
    toast('Two-factor login is off.');
    await refresh();
  } catch (err) { toast(err.message, 'error'); }
});

$('#password-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  try {
    await api('POST', '/me/password', form(e.target));
    e.target.reset();
    toast('Password changed. Other browsers and API tokens were logged out.');
  } catch (err) { toast(err.message, 'error'); }
});

async function loadSiteSecurity() {
  const settings = await api('GET', '/settings/security');
  const box = $('#require-roles');
  box.replaceChildren(...settings.roles.map((role) => {
    const label = document.createElement('label');
    const input = document.createElement('input');
    input.type = 'checkbox';
    input.name = 'role';
    input.value = role;
    input.checked = settings.require_2fa.includes(role);
    label.append(input, ` ${{ site_admin: 'site administrators', admin: 'project admins' }[role] || `${role}s`}`);
    return label;
  }));
  $('#require-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const roles = [...box.querySelectorAll('input:checked')].map((i) => i.value);
    try {
      await api('PATCH', '/settings/security', { require_2fa: roles });
      toast('Saved.');
      await refresh();
    } catch (err) { toast(err.message, 'error'); }
  });
}

refresh().catch((err) => toast(err.message, 'error'));
if ($('#account').dataset.siteAdmin === 'true') loadSiteSecurity().catch((err) => toast(err.message, 'error'));
