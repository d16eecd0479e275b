// closesync Data Center: small progressive enhancements, written for this app (no library).
// Pages work without it; with it the DataSet form adapts to the report and a run's status updates live.
// CRM text is only ever put in the page with textContent, never as HTML.
"use strict";

(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";

  function api(method, url, body) {
    const opts = { method, headers: { "X-CSRF-Token": csrf, Accept: "application/json" }, credentials: "same-origin" };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    return fetch(url, opts).then(async (res) => {
      const data = await res.json().catch(() => ({}));
      if (!res.ok) throw new Error(data.detail || res.statusText);
      return data;
    });
  }

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  // Forms that destroy something ask first.
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (ev) => {
      if (!window.confirm(form.dataset.confirm)) ev.preventDefault();
    });
  });

  // ---------- New / edit DataSet form ----------
  const dsForm = document.getElementById("dataset-form");
  if (dsForm) {
    const report = dsForm.querySelector("#report");
    const desc = dsForm.querySelector("#report-desc");
    const orgField = dsForm.querySelector("#field-organization_id");
    const userField = dsForm.querySelector("#field-user_id");
    const sinceField = dsForm.querySelector("#field-since");
    const account = dsForm.querySelector("#account");
    const newAccount = dsForm.querySelector("#new-account");

    const syncReport = () => {
      const opt = report.selectedOptions[0];
      if (!opt || !opt.value) {
        desc.textContent = "Pick a report to see what it returns.";
        orgField.classList.add("hidden");
        userField.classList.add("hidden");
        sinceField.classList.add("hidden");
        return;
      }
      desc.textContent = opt.dataset.desc || "";
      orgField.classList.toggle("hidden", opt.dataset.org !== "1");
      userField.classList.toggle("hidden", opt.dataset.user !== "1");
      sinceField.classList.toggle("hidden", opt.dataset.range !== "1");
    };
    report.addEventListener("change", syncReport);
    syncReport();

    const fill = (select, choices, emptyLabel) => {
      const keep = select.value;
      select.replaceChildren(el("option", { value: "" }, emptyLabel));
      for (const c of choices) {
        const o = el("option", { value: c.id }, c.label && c.label !== c.id ? `${c.label} (${c.id})` : c.id);
        if (c.id === keep) o.selected = true;
        select.appendChild(o);
      }
    };
    const loadChoices = () => {
      newAccount.classList.toggle("hidden", account.value !== "new");
      if (!account.value || account.value === "new") return;
      const org = dsForm.querySelector("#organization_id");
      const user = dsForm.querySelector("#user_id");
      api("GET", `/api/accounts/${encodeURIComponent(account.value)}/choices`)
        .then((data) => {
          fill(org, data.organizations || [], "Default: the key owner's first organization");
          fill(user, data.users || [], "All users");
        })
        .catch(() => {});
    };
    if (account) account.addEventListener("change", loadChoices);

    // Scheduling: show only the inputs of the chosen kind.
    const kinds = dsForm.querySelectorAll('input[name="schedule_kind"]');
    const syncKind = () => {
      const chosen = dsForm.querySelector('input[name="schedule_kind"]:checked')?.value || "manual";
      dsForm.querySelectorAll("[data-kind]").forEach((box) => {
        box.classList.toggle("hidden", !box.dataset.kind.split(" ").includes(chosen));
      });
    };
    kinds.forEach((k) => k.addEventListener("change", syncKind));
    syncKind();
    schedulePreview(dsForm);
  }

  // "Rows in table" on a DataSet's page: counted by the server once a run has ended ("—" while running).
  function showTableRows(status) {
    const cell = document.querySelector("[data-live=table-rows]");
    if (!cell || status.running) return;
    cell.textContent = status.table_rows == null ? "—" : Number(status.table_rows).toLocaleString("en-US");
  }

  // The next three run times under the Scheduling pane, asked of /api/schedule as the user types.
  function schedulePreview(form) {
    const out = form.querySelector("#schedule-preview");
    if (!out) return;
    const value = (name) => (form.querySelector(`[name="${name}"]`)?.value || "").trim();
    // The schedule text the server composes from these inputs (web/forms.py schedule_spec).
    const scheduleText = () => {
      const kind = form.querySelector('input[name="schedule_kind"]:checked')?.value || "manual";
      const zone = value("zone") ? ` ${value("zone")}` : "";
      if (kind === "every") return `every ${value("every_n")} ${value("every_unit")}`;
      if (kind === "daily") return `daily at ${value("at_time")}${zone}`;
      if (kind === "weekly") return `weekly on ${value("weekday")} at ${value("at_time")}${zone}`;
      if (kind === "cron") return value("cron") ? value("cron") + zone : "";
      return "manual";
    };
    const when = (iso, zone) => {
      const opts = { weekday: "short", year: "numeric", month: "short", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
      try {
        return new Intl.DateTimeFormat("en-GB", { ...opts, timeZone: zone || "UTC" }).format(new Date(iso)) + ` ${zone || "UTC"}`;
      } catch (e) {
        return iso.replace("T", " ").slice(0, 16) + " UTC";
      }
    };
    const say = (text, isError) => {
      out.textContent = text;
      out.classList.toggle("error", !!isError);
      out.classList.toggle("hidden", !text);
    };
    let timer = null;
    let asked = 0; // answers to older questions are ignored
    const update = () => {
      const text = scheduleText();
      if (text === "manual") return say("Runs only when started by hand.");
      if (!text) return say("Enter a cron expression, e.g. 0 6 * * 1-5.", true);
      const mine = ++asked;
      api("GET", `/api/schedule?spec=${encodeURIComponent(text)}`)
        .then((info) => {
          if (mine !== asked) return;
          const zone = value("zone") && form.querySelector('input[name="schedule_kind"]:checked')?.value !== "every" ? value("zone") : "";
          const runs = (info.next_runs || []).map((iso) => when(iso, zone));
          say(runs.length ? `Next runs: ${runs.join(" · ")}` : info.description || "");
        })
        .catch((err) => {
          if (mine === asked) say(String(err.message).split(" Accepted forms:")[0], true);
        });
    };
    const inputs = ["schedule_kind", "every_n", "every_unit", "at_time", "weekday", "zone", "cron"];
    // The server's message about a submitted schedule stands until the user changes it; then the preview speaks.
    const submittedError = form.querySelector("#error-schedule");
    const soon = (ev) => {
      if (!inputs.includes(ev.target.name)) return;
      submittedError?.remove();
      clearTimeout(timer);
      timer = setTimeout(update, 300);
    };
    form.querySelector("#pane-scheduling")?.addEventListener("input", soon);
    form.querySelector("#pane-scheduling")?.addEventListener("change", soon);
    if (!submittedError) update();
  }

  // ---------- DataSet page: run now + live status ----------
  // The status is polled every few seconds while the page is visible (every second while a run goes on),
  // so runs the scheduler starts, retries and runs from other processes show up as they happen.
  const live = document.getElementById("live");
  if (live) {
    const id = live.dataset.dataset;
    const badge = live.querySelector("[data-live=status]");
    const rows = live.querySelector("[data-live=rows]");
    const requests = live.querySelector("[data-live=requests]");
    const started = document.querySelector("[data-live=started]");
    const took = live.querySelector("[data-live=duration]");
    const msg = document.getElementById("live-error");
    const waiting = document.getElementById("live-waiting");
    const runForm = document.getElementById("run-form");
    const runBtn = runForm?.querySelector("button");
    const IDLE_POLL_MS = 3000;
    const RUNNING_POLL_MS = 1000;
    let timer = null;
    let lastSeen = live.dataset.running === "1" ? "running" : live.dataset.last || ""; // what the page shows

    const fmtDur = (s) => (s === null || s === undefined ? "—" : s < 60 ? `${Number(s).toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`);
    const fmtWhen = (iso) => (iso ? iso.replace("T", " ").slice(0, 16) + " UTC" : "—");
    const fmtCount = (n) => (n === null || n === undefined ? "—" : Number(n).toLocaleString("en-US"));
    // A failed run loaded nothing (the table kept its rows): what it read, or a dash, not a misleading 0.
    const fmtRows = (r) =>
      r.rows_written != null && r.rows_written !== r.rows
        ? `${fmtCount(r.rows_written)} written (${fmtCount(r.rows)} read)`
        : r.status === "failed" ? "—" : fmtCount(r.rows);
    const elapsed = (iso) => {
      const t = Date.parse(iso || "");
      return Number.isNaN(t) ? "running…" : fmtDur(Math.max(0, (Date.now() - t) / 1000)); // the badge says running
    };
    let historyFor = null; // the run id the history table was last fetched for

    const show = (st) => {
      const run = st.run || {};
      const status = st.running ? "running" : run.status || "never run";
      badge.className = `badge ${status}`;
      badge.textContent = status;
      rows.textContent = st.run ? fmtRows(run) : "—";
      showTableRows(st);
      if (requests) requests.textContent = fmtCount(run.requests);
      started.textContent = fmtWhen(run.started_at);
      took.textContent = st.running ? elapsed(run.started_at) : fmtDur(run.duration_s);
      msg.textContent = !st.running && run.error ? run.error : "";
      if (waiting) {
        waiting.textContent = st.running && st.waiting ? st.waiting : "";
        waiting.classList.toggle("hidden", !(st.running && st.waiting));
      }
      if (st.run) syncHistoryRow(run);
      const next = document.querySelector("[data-live=next]");
      if (next) {
        next.textContent = st.next_run_at
          ? fmtWhen(st.next_run_at) + (st.pending_attempt ? ` (retry ${st.pending_attempt})` : "")
          : "only when started by hand";
      }
      if (runBtn) runBtn.disabled = !!st.running;
    };

    // An error in two lines at most; hover for more, the run's page has it all.
    const errorCell = (error) => {
      const td = el("td", { class: "err" });
      const cut = (text, n) => (text.length > n ? `${text.slice(0, n - 3)}...` : text);
      if (error) td.appendChild(el("div", { class: "clamp", title: cut(error, 1000) }, cut(error, 300)));
      return td;
    };

    // The cells of _runs_table.html, in its order.
    const historyCells = (r) => {
      const id = el("td", { class: "num" });
      id.appendChild(el("a", { href: `/runs/${Number(r.id)}`, title: `Run ${Number(r.id)}: details` }, r.id));
      const st = el("td");
      st.appendChild(el("span", { class: `badge ${r.status}` }, r.status));
      return [
        id,
        st,
        el("td", {}, r.trigger || ""),
        el("td", { class: "nowrap" }, fmtWhen(r.started_at)),
        el("td", { class: "num" }, r.status === "running" ? "running…" : fmtDur(r.duration_s)),
        el("td", { class: "num" }, fmtRows(r)),
        el("td", { class: "num" }, fmtCount(r.requests)),
        el("td", { class: "num" }, fmtCount(r.throttle_waits)),
        el("td", { class: "num" }, r.attempt ?? "—"),
        errorCell(r.error || ""),
      ];
    };

    // The running run's row follows the status poll; a run the table does not show yet refetches it.
    const syncHistoryRow = (run) => {
      const row = document.querySelector(`#history tbody tr[data-run="${Number(run.id)}"]`);
      if (row) {
        row.replaceChildren(...historyCells(run));
      } else if (historyFor !== run.id) {
        historyFor = run.id;
        loadHistory();
      }
    };

    const renderHistory = (runs) => {
      const body = document.querySelector("#history tbody");
      if (!body) return;
      body.replaceChildren();
      for (const r of runs) {
        const tr = el("tr", { "data-run": r.id, id: `run-${Number(r.id)}` });  // #run-N anchors a run in the history
        tr.append(...historyCells(r));
        body.appendChild(tr);
      }
      const count = document.querySelector("[data-live=runs]");
      if (count) count.textContent = String(runs.length) + (runs.length >= 50 ? "+" : "");
      document.getElementById("history-empty")?.classList.add("hidden");
      document.getElementById("history")?.classList.remove("hidden");
    };

    const loadHistory = () => {
      api("GET", `/api/datasets/${id}/runs?limit=50`).then((d) => renderHistory(d.runs || [])).catch(() => {});
    };

    const renderPreview = (pv) => {
      const table = document.getElementById("preview");
      if (!table || !pv.columns || !pv.columns.length) return;
      const head = el("tr");
      pv.columns.forEach((c) => head.appendChild(el("th", {}, c)));
      table.tHead.replaceChildren(head);
      const body = table.tBodies[0];
      body.replaceChildren();
      for (const row of pv.rows) {
        const tr = el("tr");
        row.forEach((v) => {
          const isNull = v === null || v === undefined;
          const text = isNull ? "null" : typeof v === "object" ? JSON.stringify(v) : String(v);
          const td = el("td", isNull ? { class: "null", title: "null" } : { title: text }, text);
          tr.appendChild(td);
        });
        body.appendChild(tr);
      }
      document.getElementById("preview-count").textContent = String(pv.rows.length);
      document.getElementById("preview-note")?.classList.remove("hidden");
      document.getElementById("preview-empty")?.classList.add("hidden");
      document.getElementById("preview-wrap")?.classList.remove("hidden");
    };

    const renderColumns = (data) => {
      const body = document.querySelector("#columns tbody");
      if (!body || !data.columns || !data.columns.length) return;
      body.replaceChildren();
      for (const c of data.columns) {
        const tr = el("tr");
        tr.append(el("td", { class: "mono" }, c.name), el("td", { class: "mono muted" }, c.type));
        body.appendChild(tr);
      }
      document.getElementById("columns-empty")?.classList.add("hidden");
      document.getElementById("columns-wrap")?.classList.remove("hidden");
      document.getElementById("downloads")?.classList.remove("hidden"); // there is a table to download now
    };

    const refreshAfterRun = () => {
      // the table picked among a per-type DataSet's tables (?table= on the page), else its first
      const picked = new URLSearchParams(location.search).get("table");
      const table = picked ? `table=${encodeURIComponent(picked)}` : "";
      api("GET", `/api/datasets/${id}/columns?${table}`).then(renderColumns).catch(() => {});
      loadHistory();
      api("GET", `/api/datasets/${id}/preview?limit=100&${table}`).then(renderPreview).catch(() => {});
    };

    // A run that ended since the page last looked (started here, by the scheduler, or as a retry) brings
    // the table's columns, history and preview up to date.
    const poll = () => {
      timer = null;
      if (document.hidden) return; // resumed by visibilitychange
      api("GET", `/api/datasets/${id}/status`)
        .then((st) => {
          show(st);
          const seen = st.running ? "running" : st.run ? `${st.run.id}:${st.run.status}` : "";
          if (!st.running && seen !== lastSeen) {
            const why = document.getElementById("preview-why");
            if (why && st.run && st.run.status === "failed") why.textContent = "The last run failed, so the table was not created.";
            refreshAfterRun();
          }
          lastSeen = seen;
          schedule(st.running ? RUNNING_POLL_MS : IDLE_POLL_MS);
        })
        .catch(() => schedule(IDLE_POLL_MS));
    };
    const schedule = (ms) => {
      clearTimeout(timer);
      timer = document.hidden ? null : setTimeout(poll, ms);
    };
    document.addEventListener("visibilitychange", () => {
      if (document.hidden) schedule(0); // stops polling
      else poll();
    });

    if (runForm) {
      runForm.addEventListener("submit", (ev) => {
        ev.preventDefault();
        runBtn.disabled = true;
        badge.className = "badge running";
        badge.textContent = "running";
        msg.textContent = "";
        api("POST", `/api/datasets/${id}/run`)
          .then(() => schedule(0))
          .catch((err) => { msg.textContent = err.message; runBtn.disabled = false; schedule(0); });
      });
    }
    schedule(live.dataset.running === "1" ? 0 : IDLE_POLL_MS);
  }
})();
