// The report's filter: shows the findings rows (those with a data-status) that match the chosen
// statuses, account, region and check and contain the search text, and hides the rest. The controls
// are hidden in the page as written: without scripts they never show and every row does. Values are
// only read from data- attributes and text, and only written as text (no markup is built from them).
// One pass over the rows per change, reading facets kept in arrays and writing `hidden` only where it
// changes, so that a report of 10,000 trails filters without re-laying the page out row by row.
(function () {
  "use strict";
  const form = document.getElementById("filter");
  const notice = document.getElementById("filter-active");
  const rows = Array.from(document.querySelectorAll("tr[data-status]"));
  if (!form || !notice || rows.length === 0) {
    return;
  }
  const field = (name) => form.querySelector("#filter-" + name);
  const toggles = Array.from(form.querySelectorAll("button[data-status]"));
  const selects = { account: field("account"), region: field("region"), check: field("check") };
  const search = field("search");
  const count = field("count");

  // What each row is about, and the table it is in; a table's lead is the heading and paragraphs
  // that introduce it (back to its h3), hidden with it when none of its rows is shown.
  const facets = rows.map((row) => ({
    status: row.dataset.status,
    account: row.dataset.account || "",
    region: row.dataset.region || "",
    check: row.dataset.check || "",
  }));
  const tables = [];
  const tableOf = new Map();
  const tableIndex = rows.map((row) => {
    const table = row.closest("table");
    if (!tableOf.has(table)) {
      tableOf.set(table, tables.length);
      tables.push({ table: table, lead: leadOf(table), shown: 0 });
    }
    return tableOf.get(table);
  });
  // The remediation table lists the failures again: its rows are filtered but not counted.
  const counted = rows.map((row) => row.closest("section").id !== "remediation");
  const total = counted.filter((c) => c).length;
  let texts = null;

  function leadOf(table) {
    const lead = [];
    for (let e = table.previousElementSibling; e; e = e.previousElementSibling) {
      if (e.tagName === "TABLE" || e.tagName === "H2" || e.tagName === "SECTION") {
        break;
      }
      lead.push(e);
      if (e.tagName === "H3") {
        break;
      }
    }
    return lead;
  }

  // The rows' text for the search, lower-cased once, when first searched.
  function rowTexts() {
    if (texts === null) {
      texts = rows.map((row) =>
        Array.from(row.cells, (cell) => cell.textContent).join("\n").toLowerCase()
      );
    }
    return texts;
  }

  // Each select lists the values its rows carry, sorted.
  for (const [name, select] of Object.entries(selects)) {
    const values = Array.from(new Set(facets.map((f) => f[name]).filter((v) => v !== "")));
    values.sort();
    for (const value of values) {
      select.add(new Option(value, value));
    }
  }
  // Each status button says how many findings have its status.
  for (const toggle of toggles) {
    const n = facets.filter((f, i) => counted[i] && f.status === toggle.dataset.status).length;
    toggle.querySelector(".n").textContent = " " + n;
  }

  function chosen() {
    return {
      statuses: toggles
        .filter((t) => t.getAttribute("aria-pressed") === "true")
        .map((t) => t.dataset.status),
      account: selects.account.value,
      region: selects.region.value,
      check: selects.check.value,
      needle: search.value.trim().toLowerCase(),
    };
  }

  function apply() {
    const c = chosen();
    const statuses = new Set(c.statuses);
    const haystack = c.needle === "" ? null : rowTexts();
    for (const t of tables) {
      t.shown = 0;
    }
    let shown = 0;
    for (let i = 0; i < rows.length; i++) {
      const f = facets[i];
      const show =
        (statuses.size === 0 || statuses.has(f.status)) &&
        (c.account === "" || f.account === c.account) &&
        (c.region === "" || f.region === c.region) &&
        (c.check === "" || f.check === c.check) &&
        (haystack === null || haystack[i].includes(c.needle));
      if (rows[i].hidden === show) {
        rows[i].hidden = !show;
      }
      if (show) {
        shown += counted[i] ? 1 : 0;
        tables[tableIndex[i]].shown++;
      }
    }
    for (const t of tables) {
      const hide = t.shown === 0;
      for (const e of [t.table].concat(t.lead)) {
        if (e.hidden !== hide) {
          e.hidden = hide;
        }
      }
    }
    count.textContent = "Showing " + shown + " of " + total + " findings";
    const parts = [];
    if (c.statuses.length > 0) {
      parts.push("status " + c.statuses.join(" or "));
    }
    for (const name of ["account", "region", "check"]) {
      if (c[name] !== "") {
        parts.push(name + " " + c[name]);
      }
    }
    if (c.needle !== "") {
      parts.push("text \u201c" + search.value.trim() + "\u201d");
    }
    notice.hidden = parts.length === 0;
    notice.textContent =
      parts.length === 0
        ? ""
        : "Filtered by " + parts.join(", ") + ": showing " + shown + " of " + total +
          " findings (and their remediation); the others are hidden.";
  }

  let pending = 0;
  function applySoon() {
    clearTimeout(pending);
    pending = setTimeout(apply, rows.length > 2000 ? 150 : 0);
  }

  for (const toggle of toggles) {
    toggle.addEventListener("click", () => {
      const pressed = toggle.getAttribute("aria-pressed") === "true";
      toggle.setAttribute("aria-pressed", pressed ? "false" : "true");
      apply();
    });
  }
  for (const select of Object.values(selects)) {
    select.addEventListener("change", apply);
  }
  search.addEventListener("input", applySoon);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearTimeout(pending);
    apply();
  });
  field("reset").addEventListener("click", () => {
    for (const toggle of toggles) {
      toggle.setAttribute("aria-pressed", "false");
    }
    for (const select of Object.values(selects)) {
      select.value = "";
    }
    search.value = "";
    clearTimeout(pending);
    apply();
  });
  apply();
  form.hidden = false;
})();
