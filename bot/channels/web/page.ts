/**
 * The two HTML pages, fully inline (no CDN, no fonts). Neither contains any person- or agent-provided
 * text: the chat page carries only the session's CSRF token (base64url, safe in an attribute) and
 * loads everything else as JSON that the script renders with textContent.
 */
import { CLIENT_SCRIPT } from "./client-script.js";

const STYLE = `
*{box-sizing:border-box}
body{margin:0;font:15px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2230;background:#f4f5f8}
header{display:flex;align-items:center;gap:12px;padding:10px 16px;background:#1d2230;color:#fff}
header h1{font-size:17px;margin:0;flex:1}
header button{background:transparent;color:#fff;border:1px solid #fff6;border-radius:6px;padding:4px 10px;cursor:pointer}
.layout{display:grid;grid-template-columns:220px 1fr;height:calc(100vh - 46px);height:calc(100dvh - 46px)}
nav{border-right:1px solid #d8dbe3;background:#fff;overflow:auto}
nav button{display:block;width:100%;text-align:left;padding:12px 16px;border:0;border-bottom:1px solid #eef0f4;background:#fff;font:inherit;cursor:pointer}
nav button[aria-current="true"]{background:#e6ecff;font-weight:600}
nav button.unread::after{content:" ●";color:#3a5bd9}
#chat{display:flex;flex-direction:column;min-height:0}
#chat-title{margin:0;padding:10px 16px;font-size:16px;border-bottom:1px solid #d8dbe3;background:#fff}
#messages{flex:1;overflow:auto;list-style:none;margin:0;padding:12px 16px}
#messages li{margin:0 0 10px;max-width:760px}
.from{font-size:12px;color:#5b6275;margin-bottom:2px}
.text,.value,.says{white-space:pre-wrap;overflow-wrap:anywhere;unicode-bidi:isolate}
.bubble{display:inline-block;background:#fff;border:1px solid #e1e4eb;border-radius:10px;padding:6px 10px;max-width:100%}
li.mine .bubble{background:#e6ecff}
li.by-agent .bubble{background:#fff7e8;border-color:#ecd3a6;border-left:4px solid #d99a3a}
.from.agent-name{color:#8a5a12;font-weight:600}
.card{border:2px solid #1d2230;border-radius:10px;background:#fff;padding:12px;max-width:520px}
.card h3{margin:0 0 8px;font-size:16px}
.card.item{margin-top:10px;border-width:1px;border-left-width:4px;max-width:none}
.card dl{margin:0 0 8px;display:grid;grid-template-columns:max-content 1fr;gap:2px 10px}
.card dt{color:#5b6275}.card dd{margin:0}
.agent{border-left:4px solid #d99a3a;background:#fff7e8;padding:6px 10px;margin:8px 0;max-height:12em;overflow:auto}
.agent .label{font-size:12px;font-weight:600;color:#8a5a12;margin-bottom:2px}
.status{font-weight:600;margin:8px 0}
.card pre.body{margin:4px 0 8px;padding:8px;background:#f4f5f8;border:1px solid #e1e4eb;border-radius:6px;max-height:20em;overflow:auto;white-space:pre-wrap;overflow-wrap:anywhere;unicode-bidi:isolate;font:13px/1.35 ui-monospace,Menlo,Consolas,monospace}
.card .label{font-size:12px;color:#5b6275}
a.full{display:inline-block;margin:0 0 8px}
.buttons{display:flex;flex-wrap:wrap;gap:8px}
.buttons button{font:inherit;padding:8px 16px;border-radius:8px;border:1px solid #8a90a0;background:#fff;cursor:pointer}
.buttons button.primary{background:#1f7a3a;border-color:#1f7a3a;color:#fff}
.buttons button.danger{background:#b42323;border-color:#b42323;color:#fff}
.buttons button:disabled{opacity:.5;cursor:default}
form{display:flex;gap:8px;padding:10px 16px;border-top:1px solid #d8dbe3;background:#fff}
textarea{flex:1;font:inherit;padding:8px;border:1px solid #c4c8d4;border-radius:8px;resize:vertical;min-height:42px;max-height:40vh}
form button{font:inherit;padding:8px 16px;border-radius:8px;border:0;background:#3a5bd9;color:#fff;cursor:pointer}
#toasts{position:fixed;right:16px;bottom:80px;display:flex;flex-direction:column;gap:8px;z-index:10}
.toast{background:#1d2230;color:#fff;padding:10px 14px;border-radius:8px;max-width:320px;white-space:pre-wrap;overflow-wrap:anywhere}
.full{max-width:960px;margin:24px auto;background:#fff;padding:20px 24px;border-radius:12px;border:1px solid #d8dbe3}
.full h1{font-size:20px;margin:0 0 8px;overflow-wrap:anywhere}.full h2{font-size:16px;margin:18px 0 6px}
.full dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px}.full dt{color:#5b6275}.full dd{margin:0;overflow-wrap:anywhere}
.full pre.body,.full .line{white-space:pre-wrap;overflow-wrap:anywhere;unicode-bidi:isolate;font:13px/1.35 ui-monospace,Menlo,Consolas,monospace;background:#f4f5f8;border:1px solid #e1e4eb;border-radius:6px;padding:8px}
.full table.headers{border-collapse:collapse;width:100%;font:13px/1.35 ui-monospace,Menlo,Consolas,monospace}
.full table.headers th,.full table.headers td{border-bottom:1px solid #eef0f4;text-align:left;vertical-align:top;padding:3px 8px;overflow-wrap:anywhere;unicode-bidi:isolate}
.full table.headers th{white-space:nowrap;color:#5b6275}
.ctl{background:#ffe3e3;color:#8a1212;border-radius:3px;padding:0 2px}
#result{font-weight:600;margin:8px 0}
.signin{max-width:440px;margin:15vh auto;background:#fff;padding:24px;border-radius:12px;border:1px solid #d8dbe3}
@media (max-width:600px){
 .layout{grid-template-columns:1fr;grid-template-rows:auto 1fr}
 nav{display:flex;overflow-x:auto;border-right:0;border-bottom:1px solid #d8dbe3}
 nav button{width:auto;white-space:nowrap;border-bottom:0;border-right:1px solid #eef0f4}
 #toasts{left:16px;right:16px}
}`;

/** The common page frame: inline style only (nonce), no referrer. `head` and `body` must be escaped. */
export function pageShell(nonce: string, head: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Warden</title>${head}
<style nonce="${nonce}">${STYLE}</style>
</head><body>${body}</body></html>`;
}

/** Shown to anyone without a session; deliberately says nothing else. */
export function signInPage(nonce: string): string {
  return pageShell(
    nonce,
    "",
    `<main class="signin"><h1>Warden</h1>
<p>You are not signed in. Open the owner link printed by <code>warden start</code>, or an invite link you were given.</p></main>`,
  );
}

/** The chat app for a signed-in session; `csrf` is base64url. */
export function chatPage(nonce: string, csrf: string): string {
  return pageShell(
    nonce,
    `<meta name="warden-csrf" content="${csrf}">`,
    `<header><h1>Warden</h1><span id="me"></span><button id="signout" type="button">Sign out</button></header>
<div class="layout">
<nav id="chats" aria-label="Chats"></nav>
<section id="chat" aria-live="polite">
<h2 id="chat-title"></h2>
<ol id="messages"></ol>
<form id="composer"><textarea id="text" rows="2" aria-label="Message" placeholder="Message"></textarea><button type="submit">Send</button></form>
</section>
</div>
<div id="toasts" role="status"></div>
<script nonce="${nonce}">${CLIENT_SCRIPT}</script>`,
  );
}

/**
 * The WhatsApp pairing page: the QR code (an SVG the qrcode library drew from baileys' pairing
 * string, never user text) or a note that none is waiting. Reloads itself while a code waits.
 */
export function pairingPage(nonce: string, svg: string | undefined): string {
  const body = svg?.startsWith("<svg")
    ? `<main class="signin"><h1>Pair WhatsApp</h1><p>On the phone Warden should use: WhatsApp → Settings → Linked devices → Link a device, then scan this code.</p><div class="qr">${svg}</div></main>`
    : `<main class="signin"><h1>Pair WhatsApp</h1><p>No pairing code is waiting: WhatsApp is paired, or not started (set WHATSAPP=1).</p></main>`;
  return pageShell(nonce, svg ? '<meta http-equiv="refresh" content="5">' : "", body);
}
