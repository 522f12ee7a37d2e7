/**
 * The full-request page, `/approvals/<id>`: everything a held request would send (method, URL, every
 * header, the whole body) for someone who may decide it, with Approve / Deny buttons. Pure HTML
 * rendering; routing and who may see it are in approval-routes.ts and the bot's chat approver.
 *
 * Untrusted: every byte of the request (the agent wrote it) and the agent's reason. Everything is
 * HTML-escaped here, on the server, and control and bidi characters are shown as visible `[U+XXXX]`
 * marks so they can neither reorder nor hide what the approver reads. The page's only script is the
 * fixed one below (nonce-bound CSP): it reads nothing from the request data.
 */
import { parseCardAction } from "../../cards.js";
import type { FullRequestView } from "../../chat-approver.js";
import type { HeldRequest } from "../../control-port.js";
import { notShown } from "../text.js";
import { pageShell } from "./page.js";

/** Binary bodies are shown whole as base64; the hex view stops here (and says so). */
const HEX_LIMIT = 64 * 1024;

const ESC: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
// biome-ignore lint/suspicious/noControlCharactersInRegex: showing them is the point
const INVISIBLE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

/** Escaped for HTML text and attributes; invisible and bidi characters become visible marks. */
export function escapeHtml(s: string): string {
  return s
    .replace(/[&<>"']/g, (c) => ESC[c] ?? c)
    .replace(
      INVISIBLE,
      (c) => `<span class="ctl">[U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}]</span>`,
    );
}

/** The page for a signed-in person who may decide the approval. */
export function approvalPage(nonce: string, csrf: string, page: FullRequestView & { kind: "ok" }): string {
  const { view, card, request } = page;
  const facts = card.lines
    .map(
      (l) =>
        `<dt>${escapeHtml(l.label)}</dt><dd>${escapeHtml(l.value)}${l.hidden ? escapeHtml(notShown(l.hidden)) : ""}</dd>`,
    )
    .join("");
  const reason =
    view.reason === null
      ? ""
      : `<div class="agent"><div class="label">Agent says (its own words)</div><div class="says">${escapeHtml(view.reason)}</div></div>`;
  const buttons = card.buttons
    .map((b) => {
      const action = parseCardAction(b.data)?.action;
      const style = b.style === "primary" || b.style === "danger" ? b.style : "";
      return action
        ? `<button type="button" class="${style}" data-action="${action}">${escapeHtml(b.label)}</button>`
        : "";
    })
    .join("");
  const body = `<main class="full">
<h1>${escapeHtml(card.title)}</h1>
<p class="status" id="status">${escapeHtml(card.status)}</p>
${buttons ? `<div class="buttons">${buttons}</div>` : ""}
<div id="result" role="status"></div>
<dl>${facts}</dl>
${reason}
${request ? requestHtml(request) : `<p class="gone">The request is no longer held (${escapeHtml(view.state)}): only its card is shown.</p>`}
</main>
<script nonce="${nonce}">${PAGE_SCRIPT}</script>`;
  return pageShell(nonce, `<meta name="warden-csrf" content="${escapeHtml(csrf)}">`, body);
}

function requestHtml(r: HeldRequest): string {
  const headers = r.headers
    .map(([name, value]) => `<tr><th scope="row">${escapeHtml(name)}</th><td>${escapeHtml(value)}</td></tr>`)
    .join("");
  return `<h2>Request</h2>
<p class="line"><span class="method">${escapeHtml(r.method)}</span> <span class="url">${escapeHtml(r.url)}</span></p>
<h2>Headers (${r.headers.length}, secrets shown as [secret NAME])</h2>
<table class="headers"><tbody>${headers}</tbody></table>
<h2>Body (${r.bodyBytes} bytes)</h2>
${bodyHtml(r)}`;
}

function bodyHtml(r: HeldRequest): string {
  if (r.bodyBytes === 0 && r.body === "") return `<p>No body.</p>`;
  if (r.bodyEncoding === "utf8") {
    const pretty = prettyJson(r.body);
    const note =
      pretty === undefined
        ? "As sent."
        : "JSON, pretty-printed (the bytes sent are compact as the agent wrote them).";
    return `<p class="note">${note}</p><pre class="body">${escapeHtml(pretty ?? r.body)}</pre>`;
  }
  const bytes = Buffer.from(r.body, "base64");
  const hexNote =
    bytes.length > HEX_LIMIT
      ? `Hex of the first ${HEX_LIMIT} bytes (${bytes.length - HEX_LIMIT} more bytes only in the base64 above).`
      : "Hex:";
  return `<p class="note">Not UTF-8 text: the whole body as base64, then as hex.</p>
<pre class="body b64">${escapeHtml(r.body)}</pre>
<p class="note">${hexNote}</p>
<pre class="body hex">${escapeHtml(hexDump(bytes.subarray(0, HEX_LIMIT)))}</pre>`;
}

/** Pretty JSON, or undefined when `text` is not JSON (shown as sent). */
function prettyJson(text: string): string | undefined {
  const t = text.trim();
  if (!t.startsWith("{") && !t.startsWith("[")) return undefined;
  try {
    return JSON.stringify(JSON.parse(t), null, 2);
  } catch {
    return undefined;
  }
}

/** `00000000  7b 22 61 22 ...  |{"a"...|`: offset, 16 bytes, printable ASCII. */
export function hexDump(bytes: Uint8Array): string {
  const lines: string[] = [];
  for (let i = 0; i < bytes.length; i += 16) {
    const row = bytes.subarray(i, i + 16);
    const hex = Array.from(row, (b) => b.toString(16).padStart(2, "0")).join(" ");
    const ascii = Array.from(row, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".")).join("");
    lines.push(`${i.toString(16).padStart(8, "0")}  ${hex.padEnd(47)}  |${ascii}|`);
  }
  return lines.join("\n");
}

/** A short page with a heading and a sentence: sign-in prompt, 403, 404. Carries no request data. */
export function notePage(nonce: string, title: string, text: string): string {
  return pageShell(
    nonce,
    "",
    `<main class="signin"><h1>${escapeHtml(title)}</h1><p>${escapeHtml(text)}</p></main>`,
  );
}

// Plain browser JavaScript, free of backticks and "${". Posts the decision with the CSRF token,
// shows the answer as text, then reloads the page so its state is the gateway's.
const PAGE_SCRIPT = String.raw`
(function () {
  "use strict";
  var csrf = document.querySelector('meta[name="warden-csrf"]').getAttribute("content");
  var result = document.getElementById("result");
  document.querySelectorAll("button[data-action]").forEach(function (b) {
    b.addEventListener("click", function () {
      document.querySelectorAll("button[data-action]").forEach(function (x) { x.disabled = true; });
      fetch(location.pathname + "/decision", {
        method: "POST",
        headers: { "content-type": "application/json", "x-warden-csrf": csrf },
        body: JSON.stringify({ action: b.getAttribute("data-action") })
      }).then(function (r) { return r.json(); }).then(function (d) {
        result.textContent = d.message || d.error || "Done.";
        setTimeout(function () { location.reload(); }, 1500);
      }, function () { result.textContent = "Not connected."; });
    });
  });
})();
`;
