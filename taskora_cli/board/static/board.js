// The board's page: one plain ES module, no build step, no library. Every value from the server
// goes into the page as text (textContent), never as HTML; styles are set through the CSSOM,
// which the page's Content-Security-Policy allows (inline scripts and style attributes it does not).
const BASE = document.querySelector('meta[name="taskora-base"]').content;
const API = `${BASE}/api`;
// The screens and their number keys, in `taskora top`'s order (taskora_cli/tui/model.py).
const VIEWS = [["overview", "Overview"], ["jobs", "Jobs"], ["dlq", "Dead letters"],
  ["workers", "Workers"], ["schedules", "Schedules"], ["workflows", "Workflows"]];
const STATES = ["waiting", "active", "delayed", "completed", "failed", "cancelled", "expired"];
const THEMES = ["auto", "light", "dark"];
const CLEANABLE = ["completed", "failed", "cancelled", "expired"];
let config = { read_only: true, states: STATES, stats_interval_ms: 3000 };
let jobsFilter = "";

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "style") node.style.cssText = value;  // CSSOM: allowed by the page's CSP
    else if (key === "value") node.value = value;
    else if (value !== null && value !== undefined && value !== false) node.setAttribute(key, value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

async function call(path, method = "GET", body = undefined) {
  const options = { method, credentials: "same-origin" };
  if (body !== undefined) {
    options.body = JSON.stringify(body);
    options.headers = { "Content-Type": "application/json" };
  }
  const answer = await fetch(`${API}${path}`, options);
  if (answer.status === 401) {
    location.href = `${BASE}/login?redirect=${encodeURIComponent(location.pathname + location.hash)}`;
    throw new Error("log in");
  }
  const found = await answer.json();
  if (!answer.ok) throw new Error(found.error || answer.statusText);
  return found;
}

function flash(text, bad = false) {
  const note = document.getElementById("note");
  note.textContent = text;
  note.className = bad ? "bad" : "muted";
}

// A button for a mutation (none in read-only mode); `ask` is a question to confirm first,
// `input` asks for a value (a prompt) and turns it into [path, body] (null: do nothing).
function act(label, path, { ask = null, done = null, method = "POST", input = null } = {}) {
  if (config.read_only) return null;
  return h("button", { type: "button", onclick: async (event) => {
    if (ask && !confirm(ask)) return;
    let [target, body] = [path, undefined];
    if (input) {
      const given = prompt(input.question, input.value);
      const made = given === null || !given.trim() ? null : input.make(given.trim());
      if (!made) return;
      [target, body] = made;
    }
    event.currentTarget.disabled = true;
    try {
      const answer = await call(target, method, body);
      flash(done ? done(answer) : `${label}: done`);
    } catch (error) { flash(`${label}: ${error.message}`, true); }
    await render();
  } }, label);
}

const shown = (value) => (value === null || value === undefined ? "" :
  typeof value === "string" ? value : JSON.stringify(value, null, 2));
const when = (at) => (at === null || at === undefined || at === "" ? "" : new Date(at).toLocaleString());
const seconds = (s) => (s === null || s === undefined ? "" : s < 60 ? `${s.toFixed(1)}s` :
  s < 3600 ? `${(s / 60).toFixed(1)}m` : `${(s / 3600).toFixed(1)}h`);
// An interval as the server reads one back: "90s", "5m", "2h", "1d"
const every = (ms) => { for (const [unit, size] of [["d", 86_400_000], ["h", 3_600_000], ["m", 60_000], ["s", 1000]]) {
  if (ms % size === 0) return `${ms / size}${unit}`; } return `${ms}ms`; };
const enc = encodeURIComponent;

function table(id, headers, rows, empty = "nothing here") {
  if (!rows.length) return h("p", { id, class: "muted" }, empty);
  return h("table", { id }, h("thead", {}, h("tr", {}, headers.map((x) => h("th", {}, x)))),
    h("tbody", {}, rows.map((row) => h("tr", {}, row.map((cell) => h("td", {}, cell))))));
}

function route() {
  const [path, query] = location.hash.replace(/^#\/?/, "").split("?");
  const [view, ...rest] = path.split("/");
  return { view: view || "overview", arg: rest.map(decodeURIComponent).join("/"),
    params: new URLSearchParams(query || "") };
}

// Per-minute counts (oldest first) in bars of `width` minutes: an SVG chart, failures on top.
function chart(minutes, width = 10) {
  const bars = [];
  for (let i = 0; i < minutes.length; i += width) {
    const part = minutes.slice(i, i + width);
    bars.push({ at: part[0].at, completed: part.reduce((n, m) => n + m.completed, 0),
      failed: part.reduce((n, m) => n + m.failed, 0) });
  }
  const peak = Math.max(1, ...bars.map((b) => b.completed + b.failed));
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${bars.length} 100`);
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("class", "chart");
  bars.forEach((b, x) => {
    const ok = (b.completed / peak) * 100;
    const bad = (b.failed / peak) * 100;
    for (const [height, y, kind] of [[ok, 100 - ok, "ok"], [bad, 100 - ok - bad, "f"]]) {
      if (!height) continue;
      const rect = document.createElementNS(ns, "rect");
      for (const [k, v] of Object.entries({ x: x + 0.1, y, width: 0.8, height, class: kind })) rect.setAttribute(k, v);
      const title = document.createElementNS(ns, "title");
      title.textContent = `${when(b.at)}: ${b.completed} completed, ${b.failed} failed`;
      rect.append(title);
      svg.append(rect);
    }
  });
  return svg;
}

const views = {
  async overview() {
    const o = await call("/overview");
    const lastHour = o.throughput.slice(-60);
    const sum = (key) => lastHour.reduce((n, m) => n + m[key], 0);
    const server = o.server || {};
    return [
      h("div", { class: "cards", id: "totals" }, STATES.map((s) => h("a", { class: `card ${s}`, href: `#/jobs?state=${s}` },
        h("b", {}, o.total[s] ?? 0), s))),
      h("h3", {}, "Throughput ", h("span", { class: "muted" },
        `last 24 h, per 10 min; last hour ${sum("completed")} completed, ${sum("failed")} failed`)),
      chart(o.throughput),
      h("h3", {}, "Tasks"),
      table("tasks", ["task", ...STATES, "latency"], o.tasks.map((t) => [
        h("a", { href: `#/jobs/${enc(t.task)}` }, t.task), ...STATES.map((s) => t[s]), seconds(t.latency)]),
      "no tasks yet"),
      h("h3", {}, "Queues"),
      table("queues", ["queue", "tasks", "waiting", "active", "delayed", "failed", "latency", ""], o.queues.map((q) => [
        q.name, q.tasks.join(", "), q.waiting, q.active, q.delayed, q.failed, seconds(q.latency),
        [q.paused ? h("span", { class: "bad" }, "paused ") : null,
          q.paused ? act("resume", `/queues/${enc(q.name)}/resume`) : act("pause", `/queues/${enc(q.name)}/pause`,
            { ask: `Pause queue ${q.name}? Workers stop taking its jobs.` })]])),
      h("h3", {}, "Server"),
      h("p", { id: "server", class: "muted" }, Object.entries(server).map(([k, v]) => `${k} ${shown(v)}`).join(" · "),
        ` · ${o.workers.length} worker(s) · read at ${when(o.taken_ms)}`),
    ];
  },
  async jobs({ arg, params }) {
    const tasks = await call("/tasks");
    const state = params.get("state") || "waiting";
    const picked = arg || (tasks.find((t) => t[state] > 0) || tasks[0] || {}).task;
    if (!picked) return [h("p", {}, "no tasks yet")];
    const offset = Number(params.get("offset") || 0);
    const page = await call(`/tasks/${enc(picked)}/jobs?state=${enc(state)}&limit=50&offset=${offset}`);
    const link = (task, s, o = 0) => `#/jobs/${enc(task)}?state=${s}&offset=${o}`;
    const visible = tasks.filter((t) => t.task === picked || t.task.toLowerCase().includes(jobsFilter.toLowerCase()));
    const filter = h("input", { id: "jobs-filter", placeholder: "filter tasks", value: jobsFilter, autocomplete: "off",
      oninput: (e) => { jobsFilter = e.target.value; render(); } });
    return [
      h("p", { class: "tabs", id: "task-tabs" }, filter, " ", visible.map((t) => h("a", { href: link(t.task, state),
        class: t.task === picked ? "on" : null }, t.task))),
      h("p", { class: "tabs", id: "state-tabs" }, config.states.map((s) => {
        const row = tasks.find((t) => t.task === picked) || {};
        return h("a", { href: link(picked, s), class: s === state ? "on" : null }, `${s} `, h("span", { class: "muted" }, row[s] ?? ""));
      })),
      table("jobs", ["id", "attempt", "dispatched", "finished", "summary"], page.jobs.map((j) => [
        h("a", { href: `#/job/${enc(j.id)}?task=${enc(j.task)}` }, j.id), j.attempt, when(j.timeline.dispatched_at),
        when(j.timeline.finished_at), j.error ? `${j.error.type}: ${j.error.message}` : shown(j.result ?? j.data).slice(0, 120)]),
      `no ${state} jobs of ${picked}`),
      CLEANABLE.includes(state) && page.total ? h("p", {}, act(`clean ${state} jobs…`, "", {
        input: { question: `Delete the ${state} jobs of ${picked} that ended longer ago than (e.g. 7d, 12h, 0s for all):`,
          value: "7d", make: (age) => [`/tasks/${enc(picked)}/clean?state=${state}&older_than=${enc(age)}`] },
        done: (a) => `deleted ${a.deleted} ${state} job(s) of ${picked}` })) : null,
      h("p", {}, page.total ? `${offset + 1}–${offset + page.jobs.length} of ${page.total} ` : "",
        offset > 0 ? h("a", { href: link(picked, state, Math.max(0, offset - 50)) }, "‹ previous") : null, " ",
        offset + 50 < page.total ? h("a", { href: link(picked, state, offset + 50) }, "next ›") : null),
    ];
  },
  async job({ arg, params }) {
    const task = params.get("task");
    const j = await call(`/jobs/${enc(arg)}${task ? `?task=${enc(task)}` : ""}`);
    const q = `?task=${enc(j.task)}`;
    const ended = ["failed", "cancelled", "expired"].includes(j.state);
    const progress = typeof j.progress === "number" ? j.progress : null;
    return [
      h("h2", {}, h("a", { href: `#/jobs/${enc(j.task)}?state=${j.state}` }, j.task), ` ${j.id} `,
        h("span", { id: "state", class: `state ${j.state}` }, j.state)),
      h("p", {}, ended ? act("retry", `/jobs/${enc(j.id)}/retry${q}`) : null, " ",
        ["waiting", "delayed", "active", "paused"].includes(j.state) ? act("cancel", `/jobs/${enc(j.id)}/cancel${q}`,
          { ask: `Cancel job ${j.id}?` }) : null, " ",
        j.workflow ? h("a", { id: "workflow", href: `#/workflows/${enc(j.workflow.id)}` },
          `workflow ${j.workflow.id}, node ${j.workflow.node}`) : null),
      progress === null ? (j.progress === null || j.progress === undefined ? null : h("pre", { id: "progress" }, shown(j.progress)))
        : h("div", { id: "progress", class: "bar", title: `${progress}%` }, h("i", { style: `width:${Math.min(100, Math.max(0, progress))}%` })),
      h("h3", {}, "Timeline"),
      table("timeline", ["", ""], Object.entries(j.timeline).filter(([, v]) => v).map(([k, v]) => [k, when(v)])
        .concat([["attempt", j.attempt], ["priority", j.priority], ["stalls", j.stalls]],
          j.cancel_reason ? [["cancel reason", j.cancel_reason]] : [])),
      j.attempts && j.attempts.length > 1 ? [h("h3", {}, "Attempts"), table("attempts", ["attempt", "outcome", "error"],
        j.attempts.map((a) => [a.attempt, a.outcome, a.error ? `${a.error.type || ""}: ${a.error.message || shown(a.error)}` : ""]))] : null,
      h("h3", {}, "Data"), h("pre", { id: "data" }, shown(j.data)),
      j.error ? [h("h3", { class: "bad" }, "Error"), h("pre", { id: "error" },
        `${j.error.type}: ${j.error.message}\n\n${j.error.traceback || ""}`)]
        : [h("h3", {}, "Result"), h("pre", { id: "result" }, shown(j.result))],
      h("h3", {}, `Logs (${j.logs.length})`),
      h("pre", { id: "logs" }, j.logs.map((l) => `${new Date(l.ts).toISOString()} ${l.level} ${l.msg}` +
        (l.fields && Object.keys(l.fields).length ? ` ${JSON.stringify(l.fields)}` : "")).join("\n")),
    ];
  },
  async dlq() {
    const [groups, page] = await Promise.all([call("/dlq/groups"), call("/dlq?limit=100")]);
    const retried = (a) => `retried ${a.done ?? a.matched ?? ""}`;
    return [
      h("p", {}, `${page.count} dead letter(s) `, page.count ? act("retry all", "/dlq/retry-all",
        { ask: `Retry all ${page.count} dead letters?`, done: retried }) : null),
      h("h3", {}, "By error"),
      table("groups", ["count", "error", "tasks", "newest", ""], groups.map((g) => [g.count,
        `${g.error.type}: ${g.sample}`, g.tasks.join(", "),
        h("a", { href: `#/job/${enc(g.newest_id)}` }, when(g.newest_ms)),
        act("retry these", `/dlq/retry-all?error_match=${enc(g.error_match)}`,
          { ask: `Retry the ${g.count} dead letters with this error?`, done: retried })]), "no dead letters"),
      h("h3", {}, "Newest"),
      table("letters", ["id", "task", "failed", "attempts", "error", ""], page.letters.map((d) => [
        h("a", { href: `#/job/${enc(d.id)}?task=${enc(d.task)}` }, d.id), d.task, when(d.failed_at_ms), d.attempts,
        `${d.error.type}: ${d.error.message}`, act("retry", `/dlq/${enc(d.id)}/retry?task=${enc(d.task)}`)]), "no dead letters"),
    ];
  },
  async workers() {
    const found = await call("/workers");
    return [table("workers", ["id", "host", "busy", "processed", "failed", "beat", "state", "tasks", ""], found.map((w) => [
      w.id, w.host, `${w.active}/${w.slots}`, w.processed, w.failed, `${w.age.toFixed(1)}s ago`,
      w.gone ? "gone" : w.draining ? "draining" : w.healthy ? "live" : "unhealthy", w.tasks.join(", "),
      w.gone || w.draining ? null : act("drain", `/workers/${enc(w.id)}/drain`,
        { ask: `Drain worker ${w.id}? It finishes its jobs, takes no more, then exits.` })]), "no workers")];
  },
  async schedules() {
    const found = await call("/schedules");
    return [table("schedules", ["name", "task", "every / cron", "next run", "last run", "state", ""], found.map((s) => [
      s.name, s.task, s.cron || (s.every_ms ? `every ${every(s.every_ms)}` : ""), when(s.next_run), when(s.last_run),
      s.paused ? "paused" : "active",
      [s.paused ? act("resume", `/schedules/${enc(s.name)}/resume`) : act("pause", `/schedules/${enc(s.name)}/pause`),
        " ", act("trigger", `/schedules/${enc(s.name)}/trigger`, { done: (a) => `triggered: job ${a.id}` }),
        " ", act("edit", "", { method: "PUT", input: { question: `Run ${s.name} every (e.g. 5m), or on a cron expression:`,
          value: s.cron || every(s.every_ms), make: (timing) => [`/schedules/${enc(s.name)}`,
            timing.includes(" ") ? { cron: timing } : { every: timing }] }, done: () => `${s.name} updated` }),
        " ", act("delete", `/schedules/${enc(s.name)}`, { method: "DELETE", ask: `Delete schedule ${s.name}? Jobs it dispatched stay.`,
          done: () => `${s.name} deleted` })]]),
    "no schedules")];
  },
  async workflows({ arg }) {
    if (arg) {
      const w = await call(`/workflows/${enc(arg)}`);
      return [
        h("h2", {}, `workflow ${w.name} ${w.id} `, h("span", { id: "state", class: `state ${w.state}` }, w.state)),
        h("p", {}, `${w.done}/${w.total} done · created ${when(w.created_ms)} `, w.finished_ms ? `· finished ${when(w.finished_ms)} ` : "",
          w.state === "running" ? act("cancel", `/workflows/${enc(w.id)}/cancel`, { ask: `Cancel workflow ${w.id}?` }) : null),
        table("nodes", ["#", "task", "job", "state", "after", "took"], w.nodes.map((n) => [
          n.index, n.task, h("a", { href: `#/job/${enc(n.job_id)}?task=${enc(n.task)}` }, n.job_id), n.state,
          n.deps.join(", "), n.duration_ms === null || n.duration_ms === undefined ? "" : seconds(n.duration_ms / 1000)])),
        w.error ? [h("h3", { class: "bad" }, "Error"), h("pre", {}, shown(w.error))] : null,
        w.result !== null && w.result !== undefined ? [h("h3", {}, "Result"), h("pre", {}, shown(w.result))] : null,
      ];
    }
    const found = await call("/workflows");
    return [table("workflows", ["id", "name", "state", "done", "created"], found.map((w) => [
      h("a", { href: `#/workflows/${enc(w.id)}` }, w.id), w.name, w.state, `${w.done}/${w.total}`, when(w.created_ms)]),
    "no workflows")];
  },
};

async function render() {
  const where = route();
  const shownView = where.view === "job" ? "jobs" : where.view;
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("on", a.dataset.view === shownView);
  const main = document.getElementById("main");
  // A re-render (live update) keeps the focus and caret of the field being typed in.
  const focused = document.activeElement && main.contains(document.activeElement) ? document.activeElement : null;
  const caret = focused && "selectionStart" in focused ? focused.selectionStart : null;
  try {
    const parts = await (views[where.view] || views.overview)(where);
    if (route().view !== where.view) return;  // the user moved on while this was loading
    main.replaceChildren(...parts.flat(Infinity).filter((x) => x));
  } catch (error) {
    console.error(error);  // a screen that cannot be shown is an error the browser tests see
    main.replaceChildren(h("p", { class: "bad" }, error.message));
  }
  const again = focused && focused.id ? document.getElementById(focused.id) : null;
  if (again) { again.focus(); if (caret !== null) again.setSelectionRange(caret, caret); }
}

// Live updates re-render at most twice a second on a job's page, and once per stats interval
// elsewhere (lists such as the dead letters' groups cost the server more), however many
// events arrive.
let pending = null;
function soon() {
  if (pending) return;
  const wait = route().view === "job" ? 500 : Math.max(1000, config.stats_interval_ms || 3000);
  pending = setTimeout(async () => { await render(); pending = null; }, wait);
}

// Server-Sent Events; while the stream is down, poll instead until it is back.
let polling = null;
function live() {
  const status = document.getElementById("live");
  const source = new EventSource(`${API}/events`);
  const poll = () => {
    status.classList.remove("on");
    status.textContent = "polling";
    if (!polling) polling = setInterval(render, config.stats_interval_ms || 3000);
  };
  source.addEventListener("open", () => {
    status.classList.add("on");
    status.textContent = "live";
    clearInterval(polling);
    polling = null;
  });
  source.addEventListener("stats", () => { if (route().view === "overview") soon(); });
  source.addEventListener("job", (event) => {
    const where = route();
    if (where.view === "job") {
      if (JSON.parse(event.data).job === where.arg) soon();
    } else if (where.view !== "overview") soon();
  });
  source.addEventListener("error", () => {
    poll();
    // The browser retries by itself unless the stream was refused (e.g. logged out):
    // then open a new one later, polling meanwhile.
    if (source.readyState === EventSource.CLOSED) setTimeout(live, 10_000);
  });
}

function theme(next) {
  const chosen = next || localStorage.getItem("taskora-theme") || "auto";
  localStorage.setItem("taskora-theme", chosen);
  if (chosen === "auto") delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = chosen;
  document.getElementById("theme").textContent = `theme: ${chosen}`;
}
const nextTheme = () => theme(THEMES[(THEMES.indexOf(localStorage.getItem("taskora-theme") || "auto") + 1) % THEMES.length]);

function keys(search) {
  search.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && search.value.trim()) {
      location.hash = `#/job/${enc(search.value.trim())}`;
      search.value = "";
      search.blur();
    } else if (e.key === "Escape") search.blur();
  });
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const typing = e.target instanceof HTMLInputElement || e.target instanceof HTMLTextAreaElement;
    if (typing) { if (e.key === "Escape") e.target.blur(); return; }
    const n = Number(e.key);
    if (e.key === "/") { e.preventDefault(); search.focus(); }
    else if (n >= 1 && n <= VIEWS.length) location.hash = `#/${VIEWS[n - 1][0]}`;
    else if (e.key === "t") nextTheme();
    else if (e.key === "?") document.getElementById("help").toggleAttribute("hidden");
    else if (e.key === "Escape") {
      document.getElementById("help").hidden = true;
      if (route().view === "job") history.back();
    }
  });
}

async function start() {
  config = await call("/config");
  document.getElementById("title").textContent = config.title;
  document.title = `${config.title} board`;
  document.getElementById("nav").replaceChildren(...VIEWS.map(([view, label], n) =>
    h("a", { href: `#/${view}`, "data-view": view, title: `key ${n + 1}` }, label)));
  document.getElementById("help").replaceChildren(h("table", {},
    [[`1-${VIEWS.length}`, VIEWS.map(([, label]) => label).join(", ")], ["/", "open a job by id"],
      ["t", "theme: auto, light, dark"], ["esc", "back from a job; close this"], ["?", "this help"]]
      .map(([k, what]) => h("tr", {}, h("td", {}, h("kbd", {}, k)), h("td", {}, what)))));
  if (config.read_only) document.getElementById("mode").textContent = "read-only";
  if (config.auth === "session") {
    const logout = document.getElementById("logout");
    logout.action = `${BASE}/auth/logout`;
    logout.hidden = false;
  }
  keys(document.getElementById("search"));
  document.getElementById("theme").addEventListener("click", nextTheme);
  theme();
  window.addEventListener("hashchange", () => { flash(""); render(); });
  await render();
  live();
}

start();
