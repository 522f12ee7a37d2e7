/**
 * The operator console page, `<web>/console`: a fixed HTML frame with five tabs (approvals, audit,
 * agents, policies, secrets) that console-script.ts fills from `/console/api/*` with textContent only.
 * Like the chat page it carries no person- or agent-written text at all, only the session's CSRF token
 * (base64url). Its own small style sits beside the shared one (same nonce, no external files).
 */
import { CONSOLE_SCRIPT } from "./console-script.js";
import { pageShell } from "./page.js";

const CONSOLE_STYLE = `
header a.back{color:#fff}
.console{max-width:1100px;margin:0 auto;padding:12px 16px}
.tabs{display:flex;gap:4px;flex-wrap:wrap;margin:0 0 12px;border-bottom:1px solid #d8dbe3}
.tabs button{font:inherit;padding:8px 14px;border:0;border-bottom:3px solid transparent;background:none;cursor:pointer}
.tabs button[aria-selected="true"]{border-bottom-color:#3a5bd9;font-weight:600}
.panel{background:#fff;border:1px solid #d8dbe3;border-radius:10px;padding:12px 16px}
.panel h2{font-size:16px;margin:0 0 10px}
.row{display:flex;flex-wrap:wrap;gap:8px;align-items:center;margin:0 0 10px}
.row input,.row select{font:inherit;padding:6px 8px;border:1px solid #c4c8d4;border-radius:6px;min-width:0}
.console form.row{padding:0;border:0;background:none}
.console button.act{font:inherit;padding:6px 12px;border-radius:6px;border:1px solid #8a90a0;background:#fff;color:#1d2230;cursor:pointer}
.console button.primary{background:#1f7a3a;border-color:#1f7a3a;color:#fff}
.console button.danger{background:#b42323;border-color:#b42323;color:#fff}
.item{border:1px solid #e1e4eb;border-radius:8px;padding:10px;margin:0 0 10px}
.item .head{font-weight:600;overflow-wrap:anywhere;unicode-bidi:isolate}
.item a.open{margin-right:8px}
.item .meta{font-size:13px;color:#5b6275;overflow-wrap:anywhere}
.mono{font:13px/1.35 ui-monospace,Menlo,Consolas,monospace;white-space:pre-wrap;overflow-wrap:anywhere;unicode-bidi:isolate}
.scroll{overflow-x:auto}
table.audit{border-collapse:collapse;width:100%;font-size:13px}
table.audit th,table.audit td{border-bottom:1px solid #eef0f4;text-align:left;vertical-align:top;padding:4px 6px;overflow-wrap:anywhere;unicode-bidi:isolate}
td.deny{color:#b42323;font-weight:600}td.allow{color:#1f7a3a}td.approve{color:#8a5a12;font-weight:600}
#chain{font-weight:600;padding:4px 10px;border-radius:12px;display:inline-block}
#chain.ok{background:#e3f5e8;color:#1f7a3a}#chain.bad{background:#ffe3e3;color:#8a1212}
pre.logs{max-height:50vh;overflow:auto;background:#1d2230;color:#e8eaf0;padding:8px;border-radius:6px}
textarea#yaml{width:100%;min-height:320px;font:13px/1.4 ui-monospace,Menlo,Consolas,monospace;padding:8px;border:1px solid #c4c8d4;border-radius:6px;resize:vertical}
#problems{list-style:none;padding:0;margin:8px 0}
#problems li{color:#8a1212;margin:0 0 4px;overflow-wrap:anywhere}
#problems li.ok{color:#1f7a3a}
#replay .n{font-weight:600}
.msg{margin:8px 0;font-weight:600}
@media (max-width:600px){.console{padding:8px}.panel{padding:10px}.tabs button{padding:8px 8px}}
`;

/** The console for a signed-in owner or admin; `csrf` is base64url. */
export function consolePage(nonce: string, csrf: string): string {
  const panel = (id: string, title: string, inner: string) =>
    `<section class="panel" id="p-${id}" role="tabpanel" hidden><h2>${title}</h2>${inner}</section>`;
  const body = `<header><h1>Warden console</h1><a href="/" class="back">Chat</a></header>
<main class="console">
<div class="tabs" role="tablist">
<button type="button" role="tab" data-tab="approvals">Approvals</button>
<button type="button" role="tab" data-tab="audit">Audit</button>
<button type="button" role="tab" data-tab="agents">Agents</button>
<button type="button" role="tab" data-tab="policies">Policies</button>
<button type="button" role="tab" data-tab="secrets">Secrets</button>
</div>
<div id="msg" class="msg" role="status"></div>
${panel("approvals", "Pending approvals", `<div id="pending"></div>`)}
${panel(
  "audit",
  "Audit log",
  `<div class="row"><span id="chain">Checking the chain…</span></div>
<form class="row" id="audit-search"><input id="q-agent" placeholder="agent" aria-label="Agent">
<input id="q-host" placeholder="host" aria-label="Host">
<select id="q-decision" aria-label="Decision"><option value="">any decision</option><option>allow</option><option>approve</option><option>deny</option></select>
<button class="act" type="submit">Search</button></form>
<div class="scroll"><table class="audit"><thead><tr><th>#</th><th>time</th><th>agent</th><th>request</th><th>decision</th><th>rule</th></tr></thead><tbody id="audit-rows"></tbody></table></div>
<div class="row"><button class="act" type="button" id="audit-older" hidden>Older</button><button class="act" type="button" id="audit-newest" hidden>Newest</button></div>`,
)}
${panel("agents", "Agents", `<div id="agents"></div><pre class="logs mono" id="logs" hidden></pre>`)}
${panel(
  "policies",
  "Policies",
  `<div class="row"><select id="policy-list" aria-label="Policy"></select><input id="policy-name" aria-label="Policy name" placeholder="name"></div>
<textarea id="yaml" spellcheck="false" aria-label="Policy YAML"></textarea>
<ul id="problems" aria-live="polite"></ul>
<div class="row"><select id="replay-window" aria-label="Replay window"><option>1h</option><option selected>24h</option><option>7d</option></select>
<button class="act" type="button" id="replay-run">Replay</button><button class="act primary" type="button" id="policy-save">Save</button></div>
<div id="replay" aria-live="polite"></div>`,
)}
${panel(
  "secrets",
  "Secrets (names only: values are never shown)",
  `<div id="secrets"></div>
<form class="row" id="secret-form"><input id="secret-name" placeholder="NAME" aria-label="Secret name" autocomplete="off">
<input id="secret-value" type="password" placeholder="value" aria-label="Secret value" autocomplete="new-password">
<button class="act primary" type="submit">Set</button></form>`,
)}
</main>
<script nonce="${nonce}">${CONSOLE_SCRIPT}</script>`;
  return pageShell(
    nonce,
    `<meta name="warden-csrf" content="${csrf}"><style nonce="${nonce}">${CONSOLE_STYLE}</style>`,
    body,
  );
}
