/**
 * The console page's script. Everything it shows comes from `/console/api/*` and most of it was
 * written by agents or upstreams (names, hosts, paths, reasons, logs): it goes into the DOM with
 * textContent / createElement only, never innerHTML or attributes built from data, except ids passed
 * through encodeURIComponent into our own paths. Decisions post to `/approvals/<id>/decision`, the
 * full-request page's route, so a console approval is a tap like any other. Secret values are sent
 * once (the field is cleared) and never asked for again.
 */

// Plain browser JavaScript, kept free of backticks and "${" so it can live in this raw string.
export const CONSOLE_SCRIPT = String.raw`
(function () {
  "use strict";
  var csrf = document.querySelector('meta[name="warden-csrf"]').getAttribute("content");
  var $ = function (id) { return document.getElementById(id); };
  var st = { tab: "approvals", before: null, pages: [], validated: 0, timer: null };

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function say(text) { $("msg").textContent = text; }
  function getJson(path) {
    return fetch(path).then(function (r) {
      if (r.status === 401 || r.status === 403) { location.reload(); throw new Error("signed out"); }
      return r.json().then(function (d) { return { status: r.status, data: d }; });
    });
  }
  function post(path, body) {
    return fetch(path, { method: "POST", headers: { "content-type": "application/json", "x-warden-csrf": csrf }, body: JSON.stringify(body) })
      .then(function (r) { return r.json().then(function (d) { return { status: r.status, data: d }; }, function () { return { status: r.status, data: {} }; }); });
  }
  function button(label, cls, onClick) {
    var b = el("button", "act " + (cls || ""), label);
    b.type = "button";
    b.addEventListener("click", onClick);
    return b;
  }
  function when(ms) { return new Date(ms).toISOString().replace("T", " ").slice(0, 19); }

  // Tabs: the hash keeps the tab across reloads.
  function show(tab) {
    st.tab = tab;
    document.querySelectorAll(".tabs button").forEach(function (b) { b.setAttribute("aria-selected", String(b.getAttribute("data-tab") === tab)); });
    document.querySelectorAll(".panel").forEach(function (p) { p.hidden = p.id !== "p-" + tab; });
    say("");
    if (tab === "approvals") loadPending();
    if (tab === "audit") { loadAudit(); checkChain(); }
    if (tab === "agents") loadAgents();
    if (tab === "policies") loadPolicies();
    if (tab === "secrets") loadSecrets();
  }
  document.querySelectorAll(".tabs button").forEach(function (b) {
    b.addEventListener("click", function () { location.hash = b.getAttribute("data-tab"); });
  });
  window.addEventListener("hashchange", function () { var t = location.hash.slice(1); if (TABS.indexOf(t) >= 0) show(t); });

  // Pending approvals.
  function loadPending() {
    getJson("/console/api/approvals").then(function (r) {
      var box = $("pending");
      box.replaceChildren();
      if (r.data.pending.length === 0) box.appendChild(el("p", "", "Nothing is waiting for approval."));
      r.data.pending.forEach(function (a) {
        var item = el("div", "item pending");
        item.appendChild(el("div", "head mono", a.method + " " + a.url));
        item.appendChild(el("div", "meta", "agent " + a.agent + " · rule " + a.rule + " · " + a.approvals + " of " + a.needed + " approvals · expires " + a.expiresAt));
        if (a.reason !== null) {
          var says = el("div", "agent");
          says.appendChild(el("div", "label", "Agent says (its own words)"));
          says.appendChild(el("div", "says", a.reason));
          item.appendChild(says);
        }
        var row = el("div", "row");
        var link = el("a", "open", "Full request");
        link.href = "/approvals/" + encodeURIComponent(a.id);
        row.appendChild(link);
        row.appendChild(button("Approve", "primary", function () { decide(a.id, "approve", row); }));
        row.appendChild(button("Deny", "danger", function () { decide(a.id, "deny", row); }));
        item.appendChild(row);
        box.appendChild(item);
      });
    }, function () { say("Not connected."); });
  }
  function decide(id, action, row) {
    row.querySelectorAll("button").forEach(function (x) { x.disabled = true; });
    post("/approvals/" + encodeURIComponent(id) + "/decision", { action: action }).then(function (r) {
      say(r.data.message || r.data.error || "Done.");
      loadPending();
    }, function () { say("Not connected."); });
  }

  // Audit log and its chain.
  function auditQuery() {
    var q = new URLSearchParams();
    if ($("q-agent").value) q.set("agent", $("q-agent").value);
    if ($("q-host").value) q.set("host", $("q-host").value);
    if ($("q-decision").value) q.set("decision", $("q-decision").value);
    if (st.before !== null) q.set("before", String(st.before));
    return q.toString();
  }
  function loadAudit() {
    getJson("/console/api/audit?" + auditQuery()).then(function (r) {
      if (r.status !== 200) { say("That search is not valid."); return; }
      var body = $("audit-rows");
      body.replaceChildren();
      r.data.rows.forEach(function (a) {
        var tr = el("tr");
        tr.appendChild(el("td", "", a.seq));
        tr.appendChild(el("td", "", when(a.ts)));
        tr.appendChild(el("td", "", a.agent));
        tr.appendChild(el("td", "mono", a.type === "request" ? a.method + " " + a.host + a.path : a.type + (a.approval ? " " + a.approval : "")));
        tr.appendChild(el("td", a.verdict, a.verdict + (a.code ? " (" + a.code + ")" : "")));
        tr.appendChild(el("td", "", a.rule));
        body.appendChild(tr);
      });
      if (r.data.rows.length === 0) { var tr = el("tr"); var td = el("td", "", "No matching rows."); td.colSpan = 6; tr.appendChild(td); body.appendChild(tr); }
      $("audit-older").hidden = r.data.older === null;
      $("audit-older").onclick = function () { st.pages.push(st.before); st.before = r.data.older; loadAudit(); };
      $("audit-newest").hidden = st.before === null;
    }, function () { say("Not connected."); });
  }
  $("audit-newest").addEventListener("click", function () { st.before = null; st.pages = []; loadAudit(); });
  $("audit-search").addEventListener("submit", function (e) { e.preventDefault(); st.before = null; st.pages = []; loadAudit(); });
  function checkChain() {
    getJson("/console/api/audit/verify").then(function (r) {
      var c = $("chain");
      if (r.data.ok === true) { c.className = "ok"; c.textContent = "Chain verified: " + r.data.entries + " entries"; }
      else if (r.data.ok === false) { c.className = "bad"; c.textContent = "Chain broken at #" + r.data.badSeq + ": " + r.data.problem; }
      else { c.className = ""; c.textContent = "Chain check unavailable"; }
    }, function () { $("chain").textContent = "Not connected."; });
  }

  // Agents and their logs.
  function loadAgents() {
    getJson("/console/api/agents").then(function (r) {
      var box = $("agents");
      box.replaceChildren();
      if (r.data.agents.length === 0) box.appendChild(el("p", "", "No agents yet."));
      r.data.agents.forEach(function (a) {
        var item = el("div", "item agent-item");
        item.appendChild(el("div", "head", a.name));
        item.appendChild(el("div", "meta", "state " + a.state + (a.provider ? " · provider " + a.provider : "")));
        item.appendChild(button("Logs", "", function () { loadLogs(a.name); }));
        box.appendChild(item);
      });
    }, function () { say("Not connected."); });
  }
  function loadLogs(name) {
    getJson("/console/api/agents/" + encodeURIComponent(name) + "/logs").then(function (r) {
      var pre = $("logs");
      pre.hidden = false;
      pre.textContent = r.status === 200 ? (r.data.cut > 0 ? "(" + r.data.cut + " earlier characters not shown)\n" : "") + r.data.logs : "No logs for " + name + ".";
    }, function () { say("Not connected."); });
  }

  // Policies: validate as you type, replay, save.
  function loadPolicies() {
    getJson("/console/api/policies").then(function (r) {
      var sel = $("policy-list");
      var current = sel.value;
      sel.replaceChildren();
      r.data.policies.forEach(function (p) { var o = el("option", "", p.name); o.value = p.name; sel.appendChild(o); });
      if (current) sel.value = current;
      if (!$("policy-name").value && sel.value) openPolicy(sel.value);
    }, function () { say("Not connected."); });
  }
  function openPolicy(name) {
    getJson("/console/api/policies/" + encodeURIComponent(name)).then(function (r) {
      if (r.status !== 200) { say("No such policy."); return; }
      $("policy-name").value = name;
      $("yaml").value = r.data.yaml;
      $("replay").replaceChildren();
      validate();
    });
  }
  $("policy-list").addEventListener("change", function () { openPolicy($("policy-list").value); });
  function policyBody() { return { name: $("policy-name").value, yaml: $("yaml").value }; }
  function showProblems(out) {
    var ul = $("problems");
    ul.replaceChildren();
    if (out.ok) { ul.appendChild(el("li", "ok", "Valid.")); return; }
    (out.problems || [{ message: out.errors || out.error || "Not valid." }]).forEach(function (p) {
      ul.appendChild(el("li", "problem", (p.line ? "line " + p.line + ": " : "") + p.message));
    });
  }
  function validate() {
    var n = ++st.validated;
    post("/console/api/policies/validate", policyBody()).then(function (r) {
      if (n !== st.validated) return; // an older answer arriving late
      showProblems(r.status === 200 ? r.data : { ok: false, error: r.status === 400 ? "Policy names are lowercase letters, digits, - and _." : "Not checked (" + r.status + ")." });
    });
  }
  function soon() { clearTimeout(st.timer); st.timer = setTimeout(validate, 300); }
  $("yaml").addEventListener("input", soon);
  $("policy-name").addEventListener("input", soon);
  $("replay-run").addEventListener("click", function () {
    var box = $("replay");
    box.replaceChildren(el("p", "", "Replaying…"));
    var b = policyBody(); b.window = $("replay-window").value;
    post("/console/api/policies/replay", b).then(function (r) { renderReplay(r.status, r.data); });
  });
  function renderReplay(status, d) {
    var box = $("replay");
    box.replaceChildren();
    if (status === 501) { box.appendChild(el("p", "", "Replay is not available here.")); return; }
    if (!d || d.ok !== true) {
      box.appendChild(el("p", "problem", "Cannot replay: " + ((d && (d.message || d.error)) || status)));
      if (d && d.issues) showProblems({ ok: false, problems: d.issues });
      return;
    }
    var rep = d.report;
    box.appendChild(el("p", "n", rep.total + " requests in the last " + rep.window + ": " + rep.changed + " would change, " + rep.unchanged + " unchanged, " + rep.cannotReplay.count + " cannot be replayed."));
    rep.transitions.forEach(function (t) {
      if (t.count === 0) return;
      var item = el("div", "item transition");
      item.appendChild(el("div", "head", t.from + " → " + t.to + ": " + t.count));
      t.examples.forEach(function (x) { item.appendChild(el("div", "meta mono", x.agent + " " + x.method + " " + x.url + " (" + x.fromRule + " → " + x.toRule + ")")); });
      box.appendChild(item);
    });
  }
  $("policy-save").addEventListener("click", function () {
    post("/console/api/policies/save", policyBody()).then(function (r) {
      if (r.status === 200) { say("Saved " + $("policy-name").value + "."); loadPolicies(); return; }
      say("Not saved.");
      showProblems(r.status === 422 ? { ok: false, error: r.data.errors } : { ok: false, error: "Not saved (" + r.status + ")." });
    }, function () { say("Not connected."); });
  });

  // Secrets: names, set, delete.
  function loadSecrets() {
    getJson("/console/api/secrets").then(function (r) {
      var box = $("secrets");
      box.replaceChildren();
      if (r.data.names.length === 0) box.appendChild(el("p", "", "No secrets stored."));
      r.data.names.forEach(function (name) {
        var item = el("div", "row secret");
        item.appendChild(el("span", "mono", name));
        // Two taps, no dialog: the first only asks.
        item.appendChild(button("Delete", "danger", function (e) {
          if (e.target.textContent !== "Really delete?") { e.target.textContent = "Really delete?"; return; }
          post("/console/api/secrets/delete", { name: name }).then(function (x) { say(x.status === 200 ? "Deleted " + name + "." : "Not deleted."); loadSecrets(); });
        }));
        box.appendChild(item);
      });
    }, function () { say("Not connected."); });
  }
  $("secret-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var name = $("secret-name").value, value = $("secret-value").value;
    $("secret-value").value = "";
    post("/console/api/secrets/set", { name: name, value: value }).then(function (r) {
      say(r.status === 200 ? "Stored secret " + name + "." : "Not stored: names look like GITHUB_TOKEN and the value may not be empty.");
      loadSecrets();
    }, function () { say("Not connected."); });
  });

  // Live: the open tab's list and the chain state refresh every few seconds.
  setInterval(function () {
    if (document.hidden) return;
    if (st.tab === "approvals") loadPending();
    if (st.tab === "audit") { checkChain(); if (st.before === null) loadAudit(); }
  }, 5000);
  var TABS = ["approvals", "audit", "agents", "policies", "secrets"];
  show(TABS.indexOf(location.hash.slice(1)) >= 0 ? location.hash.slice(1) : "approvals");
})();
`;
