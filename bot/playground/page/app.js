// The playground's Slack client. Everything drawn from the bot's JSON arrives as HTML the server made
// and escaped (bot/playground/render.py); this script only places it and sends back what people do.
// Text of its own goes in with textContent, never as markup.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
const pg = {
  persona: localStorage.getItem("pg.persona") || "",
  pane: localStorage.getItem("pg.pane") || "C0GENERAL",
  state: null,
  drawn: { messages: null, home: null, modal: null },
  stream: null,
  goTo: null, // a permalink's message, to show once its conversation is drawn
  linked: null, // the linked message shown, marked until another conversation is chosen
};
window.__pg = pg; // tests and the benchmark read timings from here

async function post(path, body) {
  const answer = await fetch(`/pg/${path}`, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  const data = await answer.json().catch(() => ({}));
  if (!answer.ok) toast(data.error || `The playground answered ${answer.status}.`);
  return data;
}

function toast(text) {
  const el = $("#toast");
  el.textContent = text;
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.hidden = true; }, 6000);
}

// ---- the live stream ---------------------------------------------------------------------------

function connect() {
  if (pg.stream) pg.stream.close();
  // Another person's page: nothing of the previous person's stays on screen (their modal included).
  pg.drawn = { messages: null, home: null, modal: null, scrollAll: true };
  pg.state = null;
  closeLayer($("#confirm-layer"));
  closeLayer($("#modal-layer"));
  $("#calls").textContent = "";
  pg.stream = new EventSource(`/pg/stream?user=${encodeURIComponent(pg.persona)}`);
  pg.stream.addEventListener("state", (e) => apply(JSON.parse(e.data)));
  pg.stream.addEventListener("calls", (e) => addCalls(JSON.parse(e.data)));
}

function apply(state) {
  const first = pg.state === null;
  pg.state = state;
  const world = state.world;
  drawPersonas(world, first);
  if (!world.personas.some((p) => p.user_id === pg.persona)) {
    pg.persona = world.personas[0].user_id;
    connect();
    return;
  }
  const me = world.personas.find((p) => p.user_id === pg.persona);
  $("#persona-note").textContent = `${me.email} · ${me.tz} · ${me.note}` + (me.active ? "" : " · deactivated");
  $("#banner").hidden = world.ready;
  const ahead = world.days_ahead === 1 ? "1 day" : `${world.days_ahead} days`;
  $("#clock").textContent = world.clock + (world.days_ahead ? ` (${ahead} ahead)` : "");
  for (const box of $$("[data-fault]")) box.checked = !!world.faults[box.dataset.fault];
  drawMembers(world);
  drawVault(world.vault);
  drawWorkflows(world.workflows);
  drawDropped(world.inspector);
  if (!$("#nav-channels").childElementCount) {
    for (const channel of world.channels) {
      const item = document.createElement("button");
      item.type = "button";
      item.className = "nav-item";
      item.dataset.pane = channel.id;
      item.textContent = `# ${channel.name}`;
      $("#nav-channels").append(item);
    }
  }
  drawPane();
  drawModal(state.modal);
}

function drawPersonas(world, first) {
  const select = $("#persona");
  const labels = world.personas.map((p) => p.name + (p.active ? "" : " (deactivated)"));
  if (!first && Array.from(select.options).map((o) => o.textContent).join("|") === labels.join("|")) return;
  select.textContent = "";
  world.personas.forEach((p, i) => {
    const option = document.createElement("option");
    option.value = p.user_id;
    option.textContent = labels[i];
    select.append(option);
  });
  select.value = pg.persona;
}

function drawMembers(world) {
  const list = $("#members");
  const key = world.personas.map((p) => `${p.user_id}:${p.active}`).join("|");
  if (list.dataset.key === key) return;
  list.dataset.key = key;
  list.textContent = "";
  for (const p of world.personas) {
    const li = document.createElement("li");
    const name = document.createElement("span");
    name.textContent = p.name + (p.active ? "" : " · deactivated");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "ctl";
    button.dataset.member = p.user_id;
    button.dataset.active = p.active ? "false" : "true"; // what a click makes them
    button.textContent = p.active ? "Deactivate" : "Reactivate";
    li.append(name, button);
    list.append(li);
  }
}

function drawVault(vault) {
  // The versions of the secret etl-ingest rotates into, newest first, every value masked by the playground.
  $("#vault-path").textContent = vault ? vault.path : "";
  const list = $("#vault-versions");
  const key = JSON.stringify(vault ? vault.versions : []);
  if (list.dataset.key === key) return;
  list.dataset.key = key;
  list.textContent = "";
  if (!vault || !vault.versions.length) {
    const li = document.createElement("li");
    li.className = "muted";
    li.textContent = "No version yet.";
    list.append(li);
    return;
  }
  for (const v of [...vault.versions].reverse()) {
    const li = document.createElement("li");
    li.dataset.version = String(v.version);
    const fields = Object.entries(v.data).map(([k, value]) => `${k}: ${value}`).join(" · ");
    li.textContent = `version ${v.version} · ${fields}`;
    list.append(li);
  }
}

function drawDropped(inspector) {
  const note = $("#calls-dropped");
  note.hidden = !inspector.dropped;
  note.textContent = `${inspector.dropped} older rows were dropped: the inspector keeps the newest ${inspector.kept}.`;
}

function channelOfPane() {
  if (pg.pane === "home") return null;
  if (pg.pane === "dm") return pg.state ? pg.state.dm : null;
  return pg.pane;
}

function drawPane() {
  if (!pg.state) return;
  const app = pg.pane === "dm" || pg.pane === "home";
  for (const item of $$(".nav-item")) {
    item.classList.toggle("active", item.dataset.pane === pg.pane || (app && item.dataset.pane === "dm"));
  }
  for (const tab of $$(".app-tab")) tab.setAttribute("aria-selected", String(tab.dataset.pane === pg.pane));
  $("#app-tabs").hidden = !app;
  const home = pg.pane === "home";
  $("#messages").hidden = home;
  $("#home").hidden = !home;
  const channel = pg.state.world.channels.find((c) => c.id === pg.pane);
  // The app's Messages tab is read-only (its manifest says so): Slack's client has no composer there,
  // for messages or slash commands, only its sentence.
  $("#composer-wrap").hidden = !channel;
  $("#read-only").hidden = pg.pane !== "dm";
  $("#pane-title").textContent = channel ? `# ${channel.name}` : "🔑 DataOS API keys";
  if (channel) $("#composer").placeholder = `Message #${channel.name} (try /apikey)`;
  if (home) {
    if (pg.state.world.ready && pg.homeAskedFor !== pg.persona) {
      pg.homeAskedFor = pg.persona; // Slack sends app_home_opened each time the tab is opened
      post("home", { user: pg.persona });
    }
    const html = pg.state.home ? pg.state.home.html : '<p class="muted">Opening the Home tab…</p>';
    if (html !== pg.drawn.home) {
      $("#home").innerHTML = html; // made and escaped by the server
      pg.drawn.home = html;
    }
    return;
  }
  const html = pg.state.conversations[channelOfPane()] || "";
  if (html !== pg.drawn.messages) {
    const box = $("#messages");
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
    // An empty channel has the composer below it; the app's read-only Messages tab has none to point at.
    box.innerHTML = html || (pg.pane === "dm"
      ? '<p class="muted empty">This is the very beginning of your messages with <b>DataOS API keys</b>. '
        + "What only you may see (a new key, say) arrives here.</p>"
      : '<p class="muted empty">Nothing here yet. Type <code>/apikey</code> below.</p>');
    pg.drawn.messages = html;
    if (atBottom || pg.drawn.scrollAll) box.scrollTop = box.scrollHeight; // follow the conversation
    pg.drawn.scrollAll = false;
  }
  showLinked();
}

function choose(pane) {
  pg.pane = pane;
  localStorage.setItem("pg.pane", pane);
  pg.drawn.messages = pg.drawn.home = null;
  pg.drawn.scrollAll = true;
  pg.homeAskedFor = null;
  pg.linked = null; // another conversation: the mark goes, as Slack's does
  openDrawer(null);
  drawPane();
}

// ---- permalinks: Slack's links to this workspace's messages open that message here ----------------

function linkTarget(href) {
  const workspace = pg.state && pg.state.world.workspace_url;
  if (!workspace || !href.startsWith(`${workspace}/archives/`)) return null;
  const match = /^\/archives\/([A-Z0-9]+)\/p(\d{7,})$/.exec(new URL(href).pathname);
  if (!match) return null;
  const digits = match[2];
  return { channel: match[1], ts: `${digits.slice(0, -6)}.${digits.slice(-6)}` };
}

function openLink(target) {
  pg.goTo = target;
  choose(target.channel === pg.state.dm ? "dm" : target.channel);
}

function showLinked() {
  markLinked();
  if (!pg.goTo || channelOfPane() !== pg.goTo.channel) return;
  const message = $(`#messages .msg[data-ts="${CSS.escape(pg.goTo.ts)}"]`);
  pg.goTo = null;
  if (!message) { toast("That message is not in this conversation any more."); return; }
  pg.linked = { channel: channelOfPane(), ts: message.dataset.ts };
  markLinked();
  message.scrollIntoView({ block: "center" });
}

// The linked message stays marked while its conversation is shown, however often it is drawn again
// (a new message, an edit): the mark is the page's, not the server's HTML.
function markLinked() {
  for (const old of $$("#messages .msg.linked")) old.classList.remove("linked");
  if (!pg.linked || channelOfPane() !== pg.linked.channel) return;
  const message = $(`#messages .msg[data-ts="${CSS.escape(pg.linked.ts)}"]`);
  if (message) message.classList.add("linked");
}

// ---- modals ------------------------------------------------------------------------------------

function inputs(root) {
  const values = {};
  for (const el of $$("[data-kind]", root)) {
    if (!el.closest(".bk-input-block")) continue;
    const block = el.dataset.blockId, action = el.dataset.actionId;
    let value;
    if (el.classList.contains("bk-choices")) {
      const checked = $$("input:checked", el).map((i) => i.value);
      value = el.dataset.kind === "checkboxes" ? checked : (checked[0] ?? null);
    } else if (el.tagName === "SELECT") {
      value = el.value || null;
    } else {
      value = el.value;
    }
    (values[block] = values[block] || {})[action] = value;
  }
  return values;
}

function restore(root, values) {
  for (const el of $$("[data-kind]", root)) {
    const old = (values[el.dataset.blockId] || {})[el.dataset.actionId];
    if (old === undefined || !el.closest(".bk-input-block")) continue;
    if (el.classList.contains("bk-choices")) {
      for (const i of $$("input", el)) i.checked = Array.isArray(old) ? old.includes(i.value) : i.value === old;
    } else if (old !== null) {
      el.value = old;
    }
  }
}

// While a modal or a confirm dialog is open, the page behind it is inert: nothing there can be
// clicked or focused, as in Slack's client. Focus stays in the dialog (Tab wraps around).
function syncInert() {
  const open = !$("#modal-layer").hidden || !$("#confirm-layer").hidden;
  $("#app").inert = open;
  $("#modal-layer").inert = !$("#confirm-layer").hidden;
}

function closeLayer(layer) {
  layer.hidden = true;
  layer.textContent = "";
  if (layer.id === "modal-layer") pg.drawn.modal = null;
  syncInert();
}

function drawModal(modal) {
  const layer = $("#modal-layer");
  if (!modal) {
    if (pg.drawn.modal !== null || !layer.hidden) closeLayer(layer);
    return;
  }
  if (pg.drawn.modal && pg.drawn.modal.html === modal.html) return;
  // The same window redrawn (inline errors, a "For" select added above, say) keeps what was typed, as Slack
  // does for inputs whose block_id and action_id are unchanged. Focus, caret and what is typed in a search
  // box follow the same ids, never an element's place: a block added above moves every place down.
  const keep = pg.drawn.modal && pg.drawn.modal.id === modal.id ? inputs(layer) : null;
  const active = document.activeElement;
  const focused = active && layer.contains(active) ? focusPath(active) : null;
  const caret = focused && typeof active.selectionStart === "number" ? [active.selectionStart, active.selectionEnd] : null;
  const typed = keep ? $$("[data-typeahead]", layer).map((el) => [idsOf(el), el.value]) : [];
  layer.innerHTML = modal.html; // made and escaped by the server
  if (keep) restore(layer, keep);
  for (const [ids, value] of typed) { const box = $(`[data-typeahead]${ids}`, layer); if (box) box.value = value; }
  layer.hidden = false;
  syncInert();
  pg.drawn.modal = modal;
  requestAnimationFrame(() => { pg.modalDrawnAt = performance.now(); });
  const again = focused && $(focused, layer);
  if (again) {
    again.focus();
    // Typing goes on where it was: a redraw while the person types (a warning that follows the input) keeps the caret.
    if (caret && keep && typeof again.selectionStart === "number") again.setSelectionRange(caret[0], caret[1]);
  } else if (!keep || !layer.contains(document.activeElement)) {
    const first = $("input, textarea, select", layer) || focusables(layer)[0];
    if (first) first.focus();
  }
}

// `[data-block-id=…][data-action-id=…]`: what Slack keys an element's state by.
function idsOf(el) {
  return `[data-block-id="${CSS.escape(el.dataset.blockId)}"][data-action-id="${CSS.escape(el.dataset.actionId)}"]`;
}

function focusPath(el) {
  const owner = el.closest("[data-block-id][data-action-id]");
  if (owner && owner.dataset.actionId) {
    const css = idsOf(owner) + (owner.hasAttribute("data-typeahead") ? "[data-typeahead]" : ":not([data-typeahead])");
    if (owner === el) return css;
    // a radio button or checkbox of a group: the group's ids, then the option's value
    return typeof el.value === "string" && el.matches("input") ? `${css} input[value="${CSS.escape(el.value)}"]` : css;
  }
  if (el.dataset && el.dataset.el) return `[data-el="${CSS.escape(el.dataset.el)}"]`;
  for (const css of ["bk-submit", "bk-close", "bk-modal-x"]) if (el.classList.contains(css)) return `.${css}`;
  return null;
}

function focusables(root) {
  return $$("button, [href], input, select, textarea, summary, [tabindex]:not([tabindex='-1'])", root)
    .filter((el) => !el.disabled && el.getClientRects().length);
}

// ---- clicks ------------------------------------------------------------------------------------

function where(el) {
  const message = el.closest(".msg");
  if (message) return { message_id: message.dataset.messageId };
  const modal = el.closest(".bk-modal");
  if (modal) return { view_id: modal.dataset.viewId, values: inputs(modal) };
  if (el.closest("#home") && pg.state.home) return { view_id: pg.state.home.id };
  return null;
}

function act(el, option) {
  const place = where(el);
  if (!place) return;
  // The element's own place, as the server drew it: the server sends the bot that element's payload.
  post("action", { user: pg.persona, el: el.dataset.el, block_id: el.dataset.blockId,
                   action_id: el.dataset.actionId, option: option ?? null, ...place });
}

function confirmFirst(el, then) {
  const template = el.parentElement.querySelector(":scope > template.bk-confirm")
    || (el.closest(".bk-overflow") && $(":scope > template.bk-confirm", el.closest(".bk-overflow")));
  if (!template) { then(); return; }
  const layer = $("#confirm-layer");
  layer.textContent = "";
  layer.append(template.content.cloneNode(true));
  layer.hidden = false;
  syncInert();
  $(".bk-deny", layer).onclick = () => { closeLayer(layer); };
  $(".bk-ok", layer).onclick = () => { closeLayer(layer); then(); };
  $(".bk-ok", layer).focus();
}

function openDrawer(which) {
  for (const id of ["sidebar", "controls"]) {
    $(`#${id}`).classList.toggle("open", id === which);
  }
  $("#open-sidebar").setAttribute("aria-expanded", String(which === "sidebar"));
  $("#open-controls").setAttribute("aria-expanded", String(which === "controls"));
  $("#scrim").hidden = which === null;
}

document.addEventListener("click", (e) => {
  const t = e.target;
  const link = t.closest("a[href]");
  if (link) {
    const target = linkTarget(link.getAttribute("href"));
    if (target) { e.preventDefault(); openLink(target); }
    return;
  }
  const pane = t.closest(".nav-item, .app-tab, .go-pane");
  if (pane) { choose(pane.dataset.pane); return; }
  if (t.closest("#open-sidebar")) { openDrawer($("#sidebar").classList.contains("open") ? null : "sidebar"); return; }
  if (t.closest("#open-controls")) { openDrawer($("#controls").classList.contains("open") ? null : "controls"); return; }
  if (t.closest("#close-controls") || t.closest("#scrim")) { openDrawer(null); return; }
  const member = t.closest("[data-member]");
  if (member) { post("member", { user: member.dataset.member, active: member.dataset.active === "true" }); return; }
  const button = t.closest("button.bk-button[data-kind='button']");
  if (button) {
    confirmFirst(button, () => {
      if (button.dataset.url) window.open(button.dataset.url, "_blank", "noopener");
      act(button);
    });
    return;
  }
  const item = t.closest(".bk-overflow-item");
  if (item) {
    item.closest("details").open = false;
    confirmFirst(item, () => act(item, item.value));
    return;
  }
  const modal = t.closest(".bk-modal");
  if (modal && (t.closest(".bk-modal-x") || t.closest(".bk-close") || t.closest(".bk-modal-back"))) {
    post("close", { user: pg.persona, view_id: modal.dataset.viewId });
    return;
  }
  if (modal && t.closest(".bk-submit")) {
    post("submit", { user: pg.persona, view_id: modal.dataset.viewId, values: inputs(modal) });
    return;
  }
  const dismiss = t.closest(".msg-dismiss");
  if (dismiss) { post("dismiss", { user: pg.persona, message_id: dismiss.closest(".msg").dataset.messageId }); return; }
  const suggestion = t.closest("#suggestions li");
  if (suggestion) { complete(); }
});

// An input whose block says `dispatch_action` sends its changes as Slack's client does: each character
// entered or removed (`on_character_entered`), or Enter (`on_enter_pressed`); the rest are read on submit.
document.addEventListener("input", (e) => {
  const t = e.target;
  if (t.matches(".bk-modal .bk-input[data-dispatch~=character]")) act(t, t.value);
});
document.addEventListener("keydown", (e) => {
  const t = e.target;
  if (e.key === "Enter" && t.matches && t.matches(".bk-modal .bk-input[data-dispatch~=enter]")) {
    e.preventDefault();
    act(t, t.value);
  }
});

document.addEventListener("change", (e) => {
  const t = e.target;
  if (t.matches("[data-fault]")) { post("fault", { name: t.dataset.fault, on: t.checked }); return; }
  if (t.closest(".bk-input-block")) return; // read on submit
  if (t.matches("select.bk-select")) { const v = t.value; confirmFirst(t, () => act(t, v)); return; }
  const group = t.closest(".bk-choices");
  if (group) act(group, t.value);
});

// ---- the composer ------------------------------------------------------------------------------

function suggestions() {
  const list = $("#suggestions");
  const text = $("#composer").value;
  const help = pg.state && pg.state.world.command;
  list.textContent = "";
  if (!help || !help.command || !text.startsWith("/") || text.includes(" ") || !help.command.startsWith(text)) {
    list.hidden = true;
    return;
  }
  const li = document.createElement("li");
  li.setAttribute("role", "option");
  li.className = "selected";
  const name = document.createElement("b");
  name.textContent = help.command;
  const usage = document.createElement("span");
  usage.className = "usage";
  usage.textContent = ` ${help.usage}`;
  const about = document.createElement("div");
  about.className = "muted";
  about.textContent = `${help.description} · DataOS API keys`;
  li.append(name, usage, about);
  list.append(li);
  list.hidden = false;
}

function complete() {
  const box = $("#composer");
  box.value = `${pg.state.world.command.command} `;
  box.focus();
  suggestions();
}

function send(pressedAt) {
  const box = $("#composer");
  const text = box.value.trim();
  if (!text) return;
  const channel = channelOfPane();
  box.value = "";
  suggestions();
  pg.drawn.scrollAll = true; // what you send, and its answer, come into view (as in Slack)
  if (text === "/apikey" || text.startsWith("/apikey ")) {
    pg.enterAt = pressedAt ?? performance.now(); // from the key press itself
    post("command", { user: pg.persona, channel, text: text.slice(7).trim() });
  } else if (text.startsWith("/")) {
    toast(`${text.split(" ")[0]} is not a valid command. In the playground only /apikey is installed.`);
  } else {
    post("message", { user: pg.persona, channel, text });
  }
}

$("#composer").addEventListener("input", suggestions);

// Typing in an external select: Slack asks the app for options (block_suggestion) as the person types.
let typing = null;
document.addEventListener("input", (e) => {
  const box = e.target;
  if (!box.matches || !box.matches("[data-typeahead]")) return;
  clearTimeout(typing);
  typing = setTimeout(() => {
    const modal = box.closest(".bk-modal");
    if (!modal) return;
    post("suggest", { user: pg.persona, view_id: modal.dataset.viewId, block_id: box.dataset.blockId,
                      action_id: box.dataset.actionId, value: box.value });
  }, 250);
});
$("#composer").addEventListener("keydown", (e) => {
  const open = !$("#suggestions").hidden;
  const partial = $("#composer").value !== (pg.state && pg.state.world.command.command);
  if (open && (e.key === "Tab" || (e.key === "Enter" && partial))) {
    e.preventDefault();
    complete();
    return;
  }
  if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); send(e.timeStamp); }
});

// ---- time, faults, inspector -------------------------------------------------------------------

for (const button of $$("[data-days]")) {
  button.addEventListener("click", () => post("clock", { days: Number(button.dataset.days) }));
}
$("#sweep").addEventListener("click", async () => {
  const out = $("#sweep-result");
  out.hidden = false;
  out.textContent = "Sweeping…";
  const result = await post("sweep", {});
  out.textContent = (result.lines || [result.error || "The sweep did not answer."]).join("\n");
});

$("#ui-key").addEventListener("click", async () => {
  const out = $("#ui-key-result");
  out.hidden = false;
  const result = await post("ui_key", { user: pg.persona });
  out.textContent = result.line || result.error || "DataOS did not answer.";
});

// ---- Workflow Builder steps ---------------------------------------------------------------------

function showStepInputs() {
  const step = $("#wf-step").value;
  for (const box of $$(".wf-inputs [data-for]")) box.hidden = !box.dataset.for.split(" ").includes(step);
}
$("#wf-step").addEventListener("change", showStepInputs);
showStepInputs();

$("#wf-run").addEventListener("click", async () => {
  const out = $("#wf-result");
  out.hidden = false;
  const body = { user: pg.persona, step: $("#wf-step").value };
  for (const [field, id] of [["name", "#wf-name"], ["app_user", "#wf-app-user"], ["validity", "#wf-validity"],
                             ["reason", "#wf-reason"], ["within", "#wf-within"]]) body[field] = $(id).value;
  const result = await post("workflow", body);
  out.textContent = result.line || result.error || "The playground did not answer.";
});

function drawWorkflows(runs) {
  // What each run's next steps would see: its outputs, or its error; inputs while it still runs.
  const list = $("#wf-runs");
  const key = JSON.stringify(runs || []);
  if (list.dataset.key === key) return;
  list.dataset.key = key;
  list.textContent = "";
  for (const run of runs || []) {
    const li = document.createElement("li");
    li.className = `wf-run ${run.state}`;
    li.dataset.execution = run.id;
    const head = document.createElement("div");
    head.textContent = `${run.step} · ${run.state === "running" ? "running: waiting for someone" : run.state}`;
    const detail = document.createElement("pre");
    detail.textContent = run.state === "completed"
      ? Object.entries(run.outputs || {}).map(([k, v]) => `${k}: ${v}`).join("\n")
      : run.state === "failed" ? `error: ${run.error}` : `inputs: ${JSON.stringify(run.inputs)}`;
    li.append(head, detail);
    list.append(li);
  }
}

function addCalls(rows) {
  const list = $("#calls");
  for (const row of rows) {
    const li = document.createElement("li");
    li.className = `call ${/^(ok|2\d\d)$/.test(row.status) ? "good" : "bad"}`;
    const details = document.createElement("details");
    const summary = document.createElement("summary");
    const parts = [[row.at, "at"], [row.route, "route"], [row.what, "what"], [row.status, "status"], [`${row.ms} ms`, "ms"]];
    for (const [text, css] of parts) {
      const span = document.createElement("span");
      span.className = css;
      span.textContent = text;
      summary.append(span);
    }
    const request = document.createElement("pre");
    request.textContent = `request\n${row.request}`;
    const response = document.createElement("pre");
    response.textContent = `response\n${row.response}`;
    details.append(summary, request, response);
    li.append(details);
    list.prepend(li);
  }
  while (list.childElementCount > 300) list.lastElementChild.remove();
}

$("#persona").addEventListener("change", (e) => {
  pg.persona = e.target.value;
  localStorage.setItem("pg.persona", pg.persona);
  pg.homeAskedFor = null;
  openDrawer(null);
  connect();
});

document.addEventListener("keydown", (e) => {
  const confirmOpen = !$("#confirm-layer").hidden;
  const modal = $("#modal-layer .bk-modal");
  const dialog = confirmOpen ? $("#confirm-layer") : (modal && !$("#modal-layer").hidden ? modal : null);
  if (e.key === "Escape") {
    if (confirmOpen) { closeLayer($("#confirm-layer")); return; }
    if (dialog) { post("close", { user: pg.persona, view_id: modal.dataset.viewId }); return; }
    openDrawer(null);
    return;
  }
  if (e.key !== "Tab" || !dialog) return;
  const items = focusables(dialog);
  if (!items.length) { e.preventDefault(); return; }
  const first = items[0], last = items[items.length - 1];
  const inside = dialog.contains(document.activeElement);
  if (!inside || (e.shiftKey && document.activeElement === first)) { e.preventDefault(); (e.shiftKey ? last : first).focus(); }
  else if (!e.shiftKey && document.activeElement === last) { e.preventDefault(); first.focus(); }
});

if (!pg.persona) pg.persona = "U0ADA";
connect();
