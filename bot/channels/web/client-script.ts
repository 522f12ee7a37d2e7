/**
 * The page's script. All text from people, agents and cards is untrusted: it is put into the DOM
 * with textContent / createElement only (never innerHTML or attributes built from data), so markup in
 * a message stays text. Button styles come from a fixed list. Snapshot plus live events are merged by
 * sequence number so nothing is lost or shown twice across reloads and reconnects.
 */

// Plain browser JavaScript, kept free of backticks and "${" so it can live in this raw string.
export const CLIENT_SCRIPT = String.raw`
(function () {
  "use strict";
  var csrf = document.querySelector('meta[name="warden-csrf"]').getAttribute("content");
  var st = { me: null, chats: new Map(), current: null, seq: -1, ready: false, buffer: [], nodes: new Map() };
  var $ = function (id) { return document.getElementById(id); };

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function toast(text) {
    var t = el("div", "toast", text);
    $("toasts").appendChild(t);
    setTimeout(function () { t.remove(); }, 6000);
  }
  function post(path, body) {
    return fetch(path, { method: "POST", headers: { "content-type": "application/json", "x-warden-csrf": csrf }, body: JSON.stringify(body) });
  }

  function notShown(n) { return n > 0 ? "… " + n + " more characters not shown — see the full request" : ""; }
  function renderCard(m) {
    var c = m.card, box = el("div", "card");
    box.appendChild(el("h3", "", c.title));
    var dl = el("dl");
    c.lines.forEach(function (l) { dl.appendChild(el("dt", "", l.label)); dl.appendChild(el("dd", "value", l.value + notShown(l.hidden || 0))); });
    box.appendChild(dl);
    if (c.body) {
      box.appendChild(el("div", "label", "Body (as sent, secrets masked)"));
      box.appendChild(el("pre", "body", c.body.text + (c.body.text && c.body.hidden ? "\n" : "") + notShown(c.body.hidden || 0)));
    }
    if (c.agentSays !== null && c.agentSays !== undefined) {
      var a = el("div", "agent");
      a.appendChild(el("div", "label", "Agent says (its own words)"));
      a.appendChild(el("div", "says", c.agentSays + notShown(c.agentSaysHidden || 0)));
      box.appendChild(a);
    }
    box.appendChild(el("div", "status", c.status));
    if (typeof c.link === "string" && /^https?:[/][/]/.test(c.link)) {
      var link = el("a", "full", "See the full request (all headers, the whole body)");
      link.href = c.link; link.target = "_blank"; link.rel = "noopener noreferrer";
      box.appendChild(link);
    }
    if (c.buttons.length > 0) {
      var bs = el("div", "buttons");
      c.buttons.forEach(function (b) {
        var btn = el("button", b.style === "primary" || b.style === "danger" ? b.style : "", b.label);
        btn.type = "button";
        btn.addEventListener("click", function () { tap(m, b.data, bs); });
        bs.appendChild(btn);
      });
      box.appendChild(bs);
    }
    // A batch card: every item drawn in full, with its own buttons (tapped on this same message).
    if (Array.isArray(c.items)) c.items.forEach(function (it) {
      var sub = renderCard({ chatId: m.chatId, id: m.id, card: it });
      sub.className = "card item";
      box.appendChild(sub);
    });
    return box;
  }
  function tap(m, data, bs) {
    bs.querySelectorAll("button").forEach(function (x) { x.disabled = true; });
    post("/api/action", { chatId: m.chatId, messageId: m.id, data: data }).then(function (r) {
      if (!r.ok) { toast(r.status === 409 ? "This card was already decided." : "That did not work (" + r.status + ")."); bs.querySelectorAll("button").forEach(function (x) { x.disabled = false; }); }
    }, function () { toast("Not connected."); bs.querySelectorAll("button").forEach(function (x) { x.disabled = false; }); });
  }
  function renderMessage(m) {
    // An agent's words: its name and the agent style, never "Warden" (the text stays text).
    var agent = !m.from && typeof m.agent === "string" ? m.agent : null;
    var li = el("li", m.from && st.me && m.from.id === st.me.id ? "mine" : agent !== null ? "by-agent" : "");
    li.appendChild(el("div", agent !== null ? "from agent-name" : "from", m.from ? m.from.name : agent !== null ? "\uD83E\uDD16 " + agent + " (agent)" : "Warden"));
    li.appendChild(m.card ? renderCard(m) : el("div", agent !== null ? "bubble text agent-text" : "bubble text", m.text));
    st.nodes.set(m.id, li);
    return li;
  }

  function ensureChat(chatId, title) {
    var c = st.chats.get(chatId);
    if (!c) { c = { chatId: chatId, title: title, messages: [], unread: false }; st.chats.set(chatId, c); }
    return c;
  }
  function renderNav() {
    var nav = $("chats");
    nav.replaceChildren();
    st.chats.forEach(function (c) {
      var b = el("button", c.unread ? "unread" : "", c.title);
      b.type = "button";
      b.setAttribute("aria-current", String(c.chatId === st.current));
      b.addEventListener("click", function () { select(c.chatId); });
      nav.appendChild(b);
    });
  }
  function select(chatId) {
    var c = st.chats.get(chatId);
    if (!c) return;
    st.current = chatId; c.unread = false;
    $("chat-title").textContent = c.title;
    st.nodes.clear();
    var ol = $("messages");
    ol.replaceChildren();
    c.messages.forEach(function (m) { ol.appendChild(renderMessage(m)); });
    ol.scrollTop = ol.scrollHeight;
    renderNav();
  }

  function apply(type, d) {
    if (type === "msg") {
      var c = ensureChat(d.message.chatId, d.title);
      if (c.messages.some(function (m) { return m.id === d.message.id; })) return;
      c.messages.push(d.message);
      if (c.messages.length > 500) c.messages.shift();
      if (st.current === c.chatId) { var ol = $("messages"); ol.appendChild(renderMessage(d.message)); ol.scrollTop = ol.scrollHeight; }
      else { c.unread = true; }
      renderNav();
    } else if (type === "card" || type === "del") {
      var chat = st.chats.get(type === "card" ? d.message.chatId : d.chatId);
      if (!chat) return;
      var id = type === "card" ? d.message.id : d.messageId;
      var i = chat.messages.findIndex(function (m) { return m.id === id; });
      if (i < 0) return;
      if (type === "card") chat.messages[i] = d.message; else chat.messages.splice(i, 1);
      var node = st.nodes.get(id);
      if (node && st.current === chat.chatId) {
        if (type === "card") node.replaceWith(renderMessage(d.message)); else { node.remove(); st.nodes.delete(id); }
      }
    }
  }
  function onEvent(type) {
    return function (e) {
      var d = JSON.parse(e.data);
      if (!st.ready) { st.buffer.push([type, d]); return; }
      if (d.seq > st.seq) { st.seq = d.seq; apply(type, d); }
    };
  }
  function load() {
    st.ready = false;
    fetch("/api/state").then(function (r) {
      if (r.status === 401) { location.reload(); return null; }
      return r.json();
    }).then(function (s) {
      if (!s) return;
      st.me = s.me; st.seq = s.seq; st.chats = new Map();
      $("me").textContent = s.me.name;
      s.chats.forEach(function (c) { ensureChat(c.chatId, c.title).messages = c.messages.slice(); });
      st.ready = true;
      var pending = st.buffer; st.buffer = [];
      pending.forEach(function (p) { if (p[1].seq > st.seq) { st.seq = p[1].seq; apply(p[0], p[1]); } });
      select(st.chats.has(st.current) ? st.current : s.chats[0].chatId);
    }, function () { toast("Not connected."); });
  }

  var es = new EventSource("/events");
  ["msg", "card", "del"].forEach(function (t) { es.addEventListener(t, onEvent(t)); });
  es.addEventListener("toast", function (e) { toast(JSON.parse(e.data).text); });
  es.addEventListener("open", load);

  $("composer").addEventListener("submit", function (e) {
    e.preventDefault();
    var box = $("text"), text = box.value;
    if (!text.trim() || !st.current) return;
    post("/api/send", { chatId: st.current, text: text }).then(function (r) {
      if (r.ok) { box.value = ""; return; }
      toast(r.status === 413 ? "That message is too long (100 KB at most)." : "Not sent (" + r.status + ").");
    }, function () { toast("Not connected."); });
  });
  $("text").addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("composer").requestSubmit(); }
  });
  $("signout").addEventListener("click", function () {
    post("/api/signout", {}).then(function () { location.href = "/"; });
  });
})();
`;
