// Switchboard dashboard: live updates and in-place actions on top of pages
// that work without it. The server renders every region; this script only
// fetches the current page and swaps the regions marked data-live-region.

const workspace = document.querySelector('.workspace');
const account = workspace?.dataset.account;

// Swap the live regions of this page for those of `html` (the page as the
// server renders it now). The reply box is left alone, so a draft survives.
function swapRegions(html) {
  const fresh = new DOMParser().parseFromString(html, 'text/html');
  for (const region of document.querySelectorAll('[data-live-region]')) {
    const name = region.dataset.liveRegion;
    const next = fresh.querySelector(`[data-live-region="${name}"]`);
    if (next) {
      const stick = name === 'messages' && region.scrollHeight - region.scrollTop - region.clientHeight < 40;
      region.replaceWith(next);
      if (stick || name === 'messages') next.scrollTop = next.scrollHeight;
    }
  }
  bindForms(document);
  localTimes(document);
}

// One refresh at a time; an event during one asks for another after it,
// since the page it fetched may predate the event.
let refreshing = false;
let again = false;
async function refresh() {
  if (refreshing) { again = true; return; }
  refreshing = true;
  try {
    do {
      again = false;
      const res = await fetch(location.href, { credentials: 'same-origin', headers: { accept: 'text/html' } });
      if (res.redirected && res.url.includes('/app/login')) { location.href = res.url; return; }
      if (res.ok) swapRegions(await res.text());
    } while (again);
  } catch {
    // The server is away: the socket's reconnection refreshes again.
  } finally {
    refreshing = false;
  }
}

// Forms marked data-inplace post through fetch; the server answers with the
// conversation page (after a redirect) whose regions replace ours.
function bindForms(root) {
  for (const form of root.querySelectorAll('form[data-inplace]')) {
    if (form.dataset.bound) continue;
    form.dataset.bound = '1';
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      // A form with files posts as multipart (fetch sets the boundary).
      const data = new FormData(form);
      const body = form.enctype === 'multipart/form-data' ? data : new URLSearchParams(data);
      if (event.submitter?.name) body.set(event.submitter.name, event.submitter.value);
      const buttons = form.querySelectorAll('button');
      buttons.forEach((b) => { b.dataset.wasDisabled = b.disabled ? '1' : ''; b.disabled = true; });
      try {
        const res = await fetch(form.action, {
          method: 'POST', body, credentials: 'same-origin',
          headers: { 'x-csrf-token': body.get('_csrf') ?? '' },
        });
        const html = await res.text();
        const isReply = form.dataset.inplace === 'reply';
        if (res.ok) {
          if (isReply) { form.reset(); count(); setError(''); }
          swapRegions(html);
        } else if (isReply) {
          const fresh = new DOMParser().parseFromString(html, 'text/html');
          setError(fresh.querySelector('#reply-error')?.textContent || fresh.querySelector('.notice p')?.textContent || `Not sent (${res.status})`);
        } else {
          document.open(); document.write(html); document.close();
        }
      } finally {
        buttons.forEach((b) => { b.disabled = b.dataset.wasDisabled === '1'; });
      }
    });
  }
}

function setError(text) {
  const el = document.getElementById('reply-error');
  if (!el) return;
  el.textContent = text;
  el.hidden = !text;
}

// The character counter against the channel's limit, and the files
// against its count, size and text-with-files rules; a reply over them is
// refused here first (the server refuses it too).
function count() {
  const box = document.getElementById('content');
  const out = document.getElementById('reply-count');
  const files = document.getElementById('attachments');
  if (files) {
    const picked = [...files.files];
    const maxFiles = Number(files.dataset.maxFiles || 0);
    const maxBytes = Number(files.dataset.maxBytes || 0);
    let why = '';
    if (picked.length > maxFiles) why = `At most ${maxFiles} file${maxFiles === 1 ? '' : 's'}`;
    else if (maxBytes && picked.some((f) => f.size > maxBytes)) why = `Each file at most ${Math.floor(maxBytes / 1024)} KiB`;
    else if ('noMix' in files.dataset && picked.length && box?.value.trim()) why = 'This channel sends text and files in separate messages';
    files.setCustomValidity(why);
  }
  if (!box || !out || !box.dataset.max) return;
  const max = Number(box.dataset.max);
  const n = [...box.value].length;
  out.textContent = `${n} / ${max} characters`;
  out.classList.toggle('over', n > max);
  box.setCustomValidity(n > max ? `At most ${max} characters` : '');
}

function localTimes(root) {
  for (const t of root.querySelectorAll('time[datetime]')) {
    const d = new Date(t.getAttribute('datetime'));
    if (!Number.isNaN(d.getTime())) t.textContent = d.toLocaleString();
  }
}

// The account's live events through the API's WebSocket (the session cookie
// signs it in). After a drop it reconnects with backoff and refreshes, so
// whatever happened meanwhile shows up.
function live() {
  if (!account) return;
  let delay = 500;
  let everConnected = false;
  const connect = () => {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const ws = new WebSocket(`${scheme}://${location.host}/api/v1/accounts/${account}/live`);
    ws.addEventListener('open', () => {
      document.body.dataset.live = 'connected';
      // A reconnection: catch up on what happened while it was down.
      if (everConnected) refresh();
      everConnected = true;
      delay = 500;
    });
    ws.addEventListener('message', (event) => {
      let msg;
      try { msg = JSON.parse(event.data); } catch { return; }
      const name = msg.event || '';
      if (name.startsWith('conversation.') || name.startsWith('message.') || name === 'resync') refresh();
    });
    ws.addEventListener('close', () => {
      document.body.dataset.live = 'reconnecting';
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 10000);
    });
  };
  connect();
}

document.getElementById('content')?.addEventListener('input', count);
document.getElementById('attachments')?.addEventListener('change', count);
document.getElementById('content')?.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    document.getElementById('send')?.click();
  }
});
bindForms(document);
count();
localTimes(document);
document.getElementById('messages')?.scrollTo(0, 1e9);
live();
