// The jobs page: lists /v1/jobs, uploads through POST /v1/jobs, downloads rejects.
// No framework and nothing from the internet. Every value from the server is put in the page
// as text (textContent), never as markup. A token, when the server wants one (401), is asked
// once, kept in sessionStorage (this tab only) and sent as "Authorization: Bearer".
"use strict";

(() => {
  const TOKEN_KEY = "csv-ingest.api-token";
  const FAST_MS = 1000;   // refresh period while a job runs (or an upload is not listed yet)
  const SLOW_MS = 10000;  // otherwise: jobs started elsewhere (CLI, curl) still show up
  const PAGE_SIZE = 50;
  const TERMINAL = new Set(["succeeded", "succeeded_with_rejects", "failed", "aborted"]);

  const $ = (id) => document.getElementById(id);
  const watched = new Set();  // jobs uploaded from this page, refreshed fast until terminal
  let timer = null;
  let tokenPrompt = null;
  let declined = false;  // the token prompt was cancelled: ask again only on a user's action

  class NeedToken extends Error {}

  // --- requests ------------------------------------------------------------------------------

  function askToken(refused) {
    if (tokenPrompt) return tokenPrompt;
    if (declined) {
      return Promise.reject(new NeedToken("This server needs an API token: upload a file or " +
                                          "reload the page to enter it."));
    }
    const dialog = $("token-dialog");
    const input = $("token-input");
    $("token-hint").textContent = refused
      ? "The server refused the token: enter it again."
      : "This server wants a bearer token. It is kept in this tab only and sent with each request.";
    input.value = "";
    tokenPrompt = new Promise((resolve, reject) => {
      dialog.addEventListener("close", () => {
        tokenPrompt = null;
        const value = input.value.trim();
        input.value = "";
        if (dialog.returnValue === "ok" && value) {
          sessionStorage.setItem(TOKEN_KEY, value);
          resolve();
        } else {
          declined = true;
          reject(new NeedToken("This server needs an API token: upload a file or reload the " +
                               "page to enter it."));
        }
      }, { once: true });
    });
    dialog.showModal();
    return tokenPrompt;
  }

  // fetch() with the bearer token; a 401 asks for the token and tries again.
  async function request(path, init = {}) {
    for (;;) {
      const headers = new Headers(init.headers || {});
      const token = sessionStorage.getItem(TOKEN_KEY);
      if (token) headers.set("Authorization", "Bearer " + token);
      const response = await fetch(path, { ...init, headers, cache: "no-store" });
      if (response.status !== 401) return response;
      if (token) sessionStorage.removeItem(TOKEN_KEY);
      await askToken(Boolean(token));
    }
  }

  // The problem+json detail (RFC 9457) of a failed response, else its status line.
  async function failure(response) {
    let text = `${response.status} ${response.statusText}`;
    try {
      const problem = await response.json();
      text = problem.detail || problem.title || text;
    } catch (_) { /* not JSON */ }
    return new Error(text);
  }

  async function getJson(path) {
    const response = await request(path, { headers: { Accept: "application/json" } });
    if (!response.ok) throw await failure(response);
    return response.json();
  }

  // --- datasets and upload -------------------------------------------------------------------

  async function loadDatasets() {
    const select = $("upload-dataset");
    try {
      const { datasets } = await getJson("/v1/datasets");
      select.replaceChildren(new Option("Choose a dataset", ""));
      for (const dataset of datasets) {
        const label = dataset.table ? `${dataset.name} (table ${dataset.table})` : dataset.name;
        select.append(new Option(label, dataset.name));
      }
      if (datasets.length === 1) select.value = datasets[0].name;
    } catch (error) {
      select.replaceChildren(new Option("No datasets: " + error.message, ""));
    }
  }

  function randomKey() {
    if (crypto.randomUUID) return crypto.randomUUID();
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function say(element, text, isError) {
    element.textContent = text;
    element.classList.toggle("error", Boolean(isError));
  }

  async function upload(event) {
    event.preventDefault();
    const form = event.target;
    const status = $("upload-status");
    const data = new FormData(form);
    for (const name of ["mode", "batch_size"]) {
      if (!data.get(name)) data.delete(name);  // blank: the dataset's or the default
    }
    $("upload-submit").disabled = true;
    declined = false;
    say(status, "Uploading…");
    delete status.dataset.jobId;
    try {
      // One key per submission: a retry after the token prompt gives the same job.
      const response = await request("/v1/jobs", {
        method: "POST", body: data, headers: { "Idempotency-Key": randomKey() },
      });
      if (!response.ok) throw await failure(response);
      const job = await response.json();
      watched.add(job.job_id);
      status.dataset.jobId = job.job_id;
      say(status, `Job ${job.job_id} accepted: it is listed below.`);
      form.reset();
      refresh();
    } catch (error) {
      say(status, "Upload failed: " + error.message, true);
    } finally {
      $("upload-submit").disabled = false;
    }
  }

  async function downloadRejects(event) {
    event.preventDefault();
    const link = event.currentTarget;
    try {
      const response = await request(link.href);
      if (!response.ok) throw await failure(response);
      const url = URL.createObjectURL(await response.blob());
      const save = document.createElement("a");
      save.href = url;
      save.download = link.download;
      document.body.append(save);
      save.click();
      save.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
    } catch (error) {
      say($("jobs-status"), "Download failed: " + error.message, true);
    }
  }

  // --- the jobs table ------------------------------------------------------------------------

  function el(tag, props = {}, ...children) {
    const node = Object.assign(document.createElement(tag), props);
    node.append(...children);
    return node;
  }

  const number = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });

  // A group of words (a number and its unit) kept on one line: text wraps between groups.
  function nowrap(text) {
    return el("span", { className: "nowrap" }, text);
  }

  function progressCell(job) {
    const total = job.totals ? job.totals.records : null;
    const done = job.progress ? job.progress.records_done || 0 : 0;
    const bar = el("progress");
    bar.setAttribute("aria-label", `Records loaded, job ${job.job_id}`);
    let parts;
    if (total === null || total === undefined) {
      parts = [nowrap(`${number.format(done)} loaded;`), " total known once published"];
    } else {
      bar.max = Math.max(total, 1);
      bar.value = total === 0 ? 1 : done;
      const percent = total === 0 ? 100 : Math.floor((100 * done) / total);
      parts = [nowrap(`${number.format(done)} of ${number.format(total)}`), " ",
               nowrap(`(${percent} %)`)];
    }
    return el("td", { className: "progress" }, bar,
              el("span", { className: "progress-text" }, ...parts));
  }

  function rateCell(job) {
    const parts = [];
    if (job.rows_per_s !== null && job.rows_per_s !== undefined) {
      parts.push(nowrap(number.format(job.rows_per_s)));
    }
    if (job.eta_s !== null && job.eta_s !== undefined) {
      parts.push(nowrap(`ETA ${number.format(job.eta_s)} s`));
    }
    if (!parts.length) return el("td", { className: "num" }, "–");
    return el("td", { className: "num" }, ...parts.flatMap((part, i) => i ? [" · ", part] : [part]));
  }

  function rejectsCell(job) {
    const reasons = Object.entries(job.rejects_by_reason || {});
    if (!reasons.length) return el("td", {}, "none");
    const list = el("ul", { className: "reasons" });
    for (const [reason, count] of reasons) list.append(el("li", {}, `${reason}: ${count}`));
    return el("td", {}, list);
  }

  function downloadCell(job) {
    const rejected = job.counts ? job.counts.rejected : 0;
    if (!rejected) return el("td", {}, "–");
    const link = el("a", {
      href: `/v1/jobs/${encodeURIComponent(job.job_id)}/rejects?format=csv`,
      download: `${job.job_id}.rejects.csv`,
      className: "rejects-csv",
    }, `CSV (${rejected})`);
    link.setAttribute("aria-label", `Download the rejects of job ${job.job_id} as CSV`);
    link.addEventListener("click", downloadRejects);
    return el("td", {}, link);
  }

  function stateCell(job) {
    const cell = el("td", {}, el("span", { className: `state state-${job.state}` }, job.state));
    if (job.error) cell.append(el("span", { className: "error-text" }, job.error));
    if (job.publish_error && job.state === "publishing") {
      cell.append(el("span", { className: "error-text publish-error" },
        `stopped: ${job.publish_error.message}`));
    }
    return cell;
  }

  function row(job) {
    const tr = el("tr", {},
      el("th", { scope: "row", className: "job-id" }, el("code", {}, job.job_id)),
      el("td", {}, job.dataset || ""),
      el("td", { className: "file" },
         el("span", {}, job.source && job.source.name ? job.source.name : "")),
      stateCell(job), progressCell(job), rateCell(job), rejectsCell(job), downloadCell(job));
    tr.dataset.jobId = job.job_id;
    tr.dataset.state = job.state;
    return tr;
  }

  // Rows whose job did not change are kept as they are (a focused link keeps its focus).
  function render(jobs) {
    const body = document.querySelector("#jobs tbody");
    if (!jobs.length) {
      body.replaceChildren(el("tr", {}, el("td", { colSpan: 8 }, "No jobs yet.")));
      return;
    }
    const old = new Map(Array.from(body.rows, (tr) => [tr.dataset.jobId, tr]));
    const rows = jobs.map((job) => {
      const json = JSON.stringify(job);
      const kept = old.get(job.job_id);
      if (kept && kept.dataset.json === json) return kept;
      const tr = row(job);
      tr.dataset.json = json;
      return tr;
    });
    rows.forEach((tr, i) => {  // only rows that are new or changed are (re)inserted
      if (body.children[i] !== tr) body.insertBefore(tr, body.children[i] || null);
    });
    while (body.children.length > rows.length) body.lastElementChild.remove();
  }

  function needsFast(jobs) {
    const byId = new Map(jobs.map((job) => [job.job_id, job]));
    for (const id of watched) {
      const job = byId.get(id);
      if (job && TERMINAL.has(job.state)) watched.delete(id);
    }
    return watched.size > 0 || jobs.some((job) => !TERMINAL.has(job.state));
  }

  async function refresh() {
    clearTimeout(timer);
    const status = $("jobs-status");
    let fast = watched.size > 0;
    try {
      const { jobs } = await getJson(`/v1/jobs?limit=${PAGE_SIZE}`);
      render(jobs);
      fast = needsFast(jobs);
      say(status, `Updated ${new Date().toLocaleTimeString()}` +
          (fast ? "; refreshing every second while jobs run." : "."));
    } catch (error) {
      say(status, "Could not list the jobs: " + error.message, true);
      if (error instanceof NeedToken) return;  // nothing to poll for without a token
    }
    timer = setTimeout(refresh, fast ? FAST_MS : SLOW_MS);
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("upload").addEventListener("submit", upload);
    loadDatasets().then(refresh);
  });
})();
