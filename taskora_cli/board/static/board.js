// The board's page: plain ES module, no build step. Every value from the server goes into the
// page as text (textContent), never as HTML.
const BASE = document.querySelector('meta[name="taskora-base"]').content;
const API = `${BASE}/api`;
const VIEWS = [["overview", "Overview"], ["jobs", "Jobs"], ["dlq", "Dead letters"],
  ["schedules", "Schedules"], ["workers", "Workers"], ["workflows", "Workflows"]];
let config = { read_only: true, states: [], stats_interval_ms: 3000 };
let polling = null;

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "style") node.style.cssText = value;  // CSSOM: allowed by the page's CSP
    else if (value !== null && value !== undefined && value !== false) node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

async function call(path, method = "GET") {
  const answer = await fetch(`${API}${path}`, { method, credentials: "same-origin" });
  if (answer.status === 401) { location.href = `${BASE}/login`; throw new Error("log in"); }
  const body = await answer.json();
  if (!answer.ok) throw new Error(body.error || answer.statusText);
  return body;
}

function act(label, path, after) {
  if (config.read_only) return null;
  return h("button", { type: "button", onclick: async () => {
    try { await call(path, "POST"); } catch (error) { alert(error.message); }
    (after || render)();
  } }, label);
}

const shown = (value) => (value === null || value === undefined ? "" :
  typeof value === "string" ? value : JSON.stringify(value, null, 2));
const when = (iso) => (iso ? new Date(iso).toLocaleString() : "");
const enc = encodeURIComponent;

function table(headers, rows) {
  return h("table", {}, h("tr", {}, headers.map((x) => h("th", {}, x))),
    rows.map((row) => h("tr", {}, row.map((cell) => h("td", {}, cell)))));
}

function route() {
  const [view, ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  return { view: view || "overview", arg: rest.map(decodeURIComponent).join("/"),
    params: new URLSearchParams(location.hash.split("?")[1] || "") };
}

const views = {
  async overview() {
    const o = await call("/overview");
    const states = ["waiting", "active", "delayed", "completed", "failed", "cancelled", "expired"];
    const peak = Math.max(1, ...o.throughput.map((m) => m.completed + m.failed));
    return [
      h("div", { class: "cards" }, states.map((s) => h("div", { class: "card" }, h("b", {}, o.total[s]), s))),
      h("div", { class: "muted" }, "finished per minute, last 24 h"),
      h("div", { class: "spark" }, o.throughput.slice(-240).map((m) => h("i", {
        class: m.failed > m.completed ? "f" : "", title: `${when(m.at)}: ${m.completed} completed, ${m.failed} failed`,
        style: `height:${Math.round(((m.completed + m.failed) / peak) * 100)}%` }))),
      table(["task", ...states, "latency"], o.tasks.map((t) => [
        h("a", { href: `#/jobs/${enc(t.task)}` }, t.task), ...states.map((s) => t[s]),
        t.latency === null ? "" : `${t.latency.toFixed(1)}s`])),
      h("h3", {}, "Server"),
      h("p", { class: "muted" }, o.server ? `${o.server.server} ${o.server.version} (${o.server.mode}), memory ${o.server.used_memory}` : ""),
    ];
  },
  async jobs({ arg, params }) {
    const tasks = await call("/tasks");
    const task = arg || (tasks[0] && tasks[0].task);
    if (!task) return [h("p", {}, "no tasks yet")];
    const state = params.get("state") || "waiting";
    const offset = Number(params.get("offset") || 0);
    const page = await call(`/tasks/${enc(task)}/jobs?state=${state}&limit=50&offset=${offset}`);
    const link = (s, o) => `#/jobs/${enc(task)}?state=${s}&offset=${o}`;
    return [
      h("p", { class: "tabs" }, tasks.map((t) => h("a", { href: `#/jobs/${enc(t.task)}?state=${state}`,
        class: t.task === task ? "on" : null }, t.task))),
      h("p", { class: "tabs" }, config.states.map((s) => h("a", { href: link(s, 0), class: s === state ? "on" : null }, s))),
      table(["id", "attempt", "dispatched", "finished", "summary"], page.jobs.map((j) => [
        h("a", { href: `#/job/${enc(j.id)}` }, j.id), j.attempt, when(j.timeline.dispatched_at),
        when(j.timeline.finished_at), j.error ? `${j.error.type}: ${j.error.message}` : shown(j.result ?? j.data).slice(0, 120)])),
      h("p", {}, `${offset + 1}–${offset + page.jobs.length} of ${page.total} `,
        offset > 0 ? h("a", { href: link(state, Math.max(0, offset - 50)) }, "‹ newer") : null, " ",
        offset + 50 < page.total ? h("a", { href: link(state, offset + 50) }, "older ›") : null),
    ];
  },
  async job({ arg }) {
    const j = await call(`/jobs/${enc(arg)}`);
    const ended = ["failed", "cancelled", "expired"].includes(j.state);
    return [
      h("h2", {}, `${j.task} ${j.id} `, h("span", { class: j.state === "failed" ? "bad" : "muted" }, j.state)),
      h("p", {}, ended ? act("retry", `/jobs/${enc(j.id)}/retry`) : null, " ",
        ["waiting", "delayed", "active"].includes(j.state) ? act("cancel", `/jobs/${enc(j.id)}/cancel`) : null,
        j.workflow ? h("a", { href: `#/workflows/${enc(j.workflow.id)}` }, ` workflow ${j.workflow.id}, node ${j.workflow.node}`) : null),
      table(["", ""], Object.entries(j.timeline).map(([k, v]) => [k, when(v)])
        .concat([["attempt", j.attempt], ["progress", shown(j.progress)]])),
      h("h3", {}, "Data"), h("pre", {}, shown(j.data)),
      j.error ? [h("h3", { class: "bad" }, "Error"), h("pre", {}, `${j.error.type}: ${j.error.message}\n\n${j.error.traceback || ""}`)]
        : [h("h3", {}, "Result"), h("pre", {}, shown(j.result))],
      h("h3", {}, `Logs (${j.logs.length})`),
      h("pre", {}, j.logs.map((l) => `${new Date(l.ts).toISOString()} ${l.level} ${l.msg} ${l.fields ? JSON.stringify(l.fields) : ""}`).join("\n")),
    ];
  },
  async dlq() {
    const [groups, page] = await Promise.all([call("/dlq/groups"), call("/dlq?limit=100")]);
    return [
      h("p", {}, `${page.count} dead letters `, page.count ? act("retry all", "/dlq/retry-all") : null),
      h("h3", {}, "By error"),
      table(["count", "error", "tasks", "newest"], groups.map((g) => [g.count,
        `${g.error.type}: ${g.sample}`, g.tasks.join(", "), h("a", { href: `#/job/${enc(g.newest_id)}` }, g.newest_id)])),
      h("h3", {}, "Newest"),
      table(["id", "task", "failed", "error", ""], page.letters.map((d) => [
        h("a", { href: `#/job/${enc(d.id)}` }, d.id), d.task, new Date(d.failed_at_ms).toLocaleString(),
        `${d.error.type}: ${d.error.message}`, act("retry", `/dlq/${enc(d.id)}/retry`)])),
    ];
  },
  async schedules() {
    const found = await call("/schedules");
    return [table(["name", "task", "every / cron", "next run", "state", ""], found.map((s) => [
      s.name, s.task, s.cron || (s.every_ms ? `${s.every_ms / 1000}s` : ""), when(s.next_run), s.paused ? "paused" : "active",
      [s.paused ? act("resume", `/schedules/${enc(s.name)}/resume`) : act("pause", `/schedules/${enc(s.name)}/pause`),
        " ", act("trigger", `/schedules/${enc(s.name)}/trigger`)]]))];
  },
  async workers() {
    const found = await call("/workers");
    return [table(["id", "host", "busy", "processed", "failed", "beat", "state", "tasks", ""], found.map((w) => [
      w.id, w.host, `${w.active}/${w.slots}`, w.processed, w.failed, `${w.age.toFixed(1)}s`,
      w.gone ? "gone" : w.draining ? "draining" : w.healthy ? "live" : "unhealthy", w.tasks.join(", "),
      w.gone || w.draining ? null : act("drain", `/workers/${enc(w.id)}/drain`)]))];
  },
  async workflows({ arg }) {
    if (arg) {
      const w = await call(`/workflows/${enc(arg)}`);
      return [h("h2", {}, `workflow ${arg} `, h("span", { class: "muted" }, w.state)),
        h("pre", {}, shown(w))];
    }
    const found = await call("/workflows");
    return [table(["id", "state", ""], found.map((w) => [
      h("a", { href: `#/workflows/${enc(w.id)}` }, w.id), w.state, shown(w).slice(0, 120)]))];
  },
};

async function render() {
  const where = route();
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("on", a.dataset.view === where.view);
  const main = document.getElementById("main");
  try {
    const parts = await (views[where.view] || views.overview)(where);
    main.replaceChildren(...parts.flat());
  } catch (error) {
    main.replaceChildren(h("p", { class: "bad" }, error.message));
  }
}

let pending = null;
function soon() { clearTimeout(pending); pending = setTimeout(render, 300); }

function live() {
  const dot = document.getElementById("live");
  const source = new EventSource(`${API}/events`);
  source.addEventListener("open", () => { dot.classList.add("on"); clearInterval(polling); polling = null; });
  source.addEventListener("stats", () => { if (route().view === "overview") soon(); });
  source.addEventListener("job", soon);
  source.addEventListener("error", () => {  // the stream dropped: poll until it is back
    dot.classList.remove("on");
    if (!polling) polling = setInterval(render, config.stats_interval_ms || 3000);
  });
}

function theme(next) {
  const chosen = next || localStorage.getItem("taskora-theme") || "auto";
  localStorage.setItem("taskora-theme", chosen);
  if (chosen === "auto") delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = chosen;
  document.getElementById("theme").textContent = chosen;
}

async function start() {
  config = await call("/config");
  document.getElementById("title").textContent = config.title;
  document.getElementById("nav").replaceChildren(...VIEWS.map(([view, label], n) =>
    h("a", { href: `#/${view}`, "data-view": view, title: `key ${n + 1}` }, label)));
  if (config.auth === "session") {
    const logout = document.getElementById("logout");
    logout.action = `${BASE}/auth/logout`;
    logout.hidden = false;
  }
  const search = document.getElementById("search");
  search.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && search.value.trim()) { location.hash = `#/job/${enc(search.value.trim())}`; search.blur(); }
  });
  document.addEventListener("keydown", (e) => {
    if (e.target instanceof HTMLInputElement || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "/") { e.preventDefault(); search.focus(); }
    const n = Number(e.key);
    if (n >= 1 && n <= VIEWS.length) location.hash = `#/${VIEWS[n - 1][0]}`;
  });
  document.getElementById("theme").addEventListener("click", () => {
    const order = ["auto", "light", "dark"];
    theme(order[(order.indexOf(localStorage.getItem("taskora-theme") || "auto") + 1) % 3]);
  });
  theme();
  window.addEventListener("hashchange", render);
  await render();
  live();
}

start();
