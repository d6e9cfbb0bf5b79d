import { api, toast } from './api.js';

document.getElementById('verify-chain').addEventListener('click', async () => {
  const out = document.getElementById('verify-result');
  try {
    const r = await api('GET', '/audit/verify');
    out.textContent = r.ok ? `Chain intact: ${r.checked} events verified.` : `Chain broken at event ${r.first_bad_seq}: ${r.reason}`;
    out.className = r.ok ? 'ok' : 'error';
  } catch (e) { toast(e.message, 'error'); }
});
