import { api, toast } from './api.js';

document.getElementById('verify-chain').addEventListener('click', async () => {
  const out = document.getElementById('verify-result');
  try {
    const r = await api('GET', '/audit/verify');
    const waiting = r.unsealed && r.unsealed.count ? ` ${r.unsealed.count} newer events are being sealed.` : '';
    out.textContent = r.ok ? `Chain intact: ${r.checked} events verified.${waiting}` : `Chain broken at event ${r.first_bad_seq}: ${r.reason}`;
    out.className = r.ok ? 'ok' : 'error';
  } catch (e) { toast(e.message, 'error'); }
});
