// The report's filter: shows the rows of trails and accounts (those with data-findings, each
// finding as "check=STATUS") that are in the chosen account and region, have a finding of a chosen
// status for the chosen check, and contain the search text; and hides the rest. The controls
// are hidden in the page as written: without scripts they never show and every row does. Values are
// only read from data- attributes and text, and only written as text (no markup is built from them).
// One pass over the rows per change, reading facets kept in arrays and writing `hidden` only where it
// changes, so that a report of 10,000 trails filters without re-laying the page out row by row (and
// the stylesheet has the browser lay out only the sections and parts in view).
(function () {
  "use strict";
  const form = document.getElementById("filter");
  const notice = document.getElementById("filter-active");
  const rows = Array.from(document.querySelectorAll("tr[data-findings]"));
  if (!form || !notice || rows.length === 0) {
    return;
  }
  const field = (name) => form.querySelector("#filter-" + name);
  const toggles = Array.from(form.querySelectorAll("button[data-status]"));
  const selects = { account: field("account"), region: field("region"), check: field("check") };
  const search = field("search");
  const count = field("count");

  // What each row is about, and what folds away when none of its rows is shown: the part of the
  // section it is in (a trail's or an account's heading, facts and table), else its table.
  const facets = rows.map((row) => ({
    account: row.dataset.account || "",
    region: row.dataset.region || "",
    findings: row.dataset.findings
      .split(" ")
      .filter((f) => f !== "")
      .map((f) => {
        const at = f.lastIndexOf("=");
        return { check: f.slice(0, at), status: f.slice(at + 1) };
      }),
  }));
  const units = [];
  const unitOf = new Map();
  const unitIndex = rows.map((row) => {
    const unit = row.closest(".part") || row.closest("table");
    if (!unitOf.has(unit)) {
      unitOf.set(unit, units.length);
      units.push({ element: unit, shown: 0 });
    }
    return unitOf.get(unit);
  });
  const total = rows.length;
  let texts = null;

  // Text as the search compares it: lower case, each run of white space one space.
  const folded = (text) => text.replace(/\s+/g, " ").trim().toLowerCase();

  // The rows' text for the search, folded once, when first searched.
  function rowTexts() {
    if (texts === null) {
      // (The page writes a line feed between cells and after each line break, so that words of
      // two cells or lines do not run together; one textContent per row is four times quicker than
      // one per cell.)
      texts = rows.map((row) => folded(row.textContent));
    }
    return texts;
  }

  // Each select lists the values its rows carry, sorted.
  for (const [name, select] of Object.entries(selects)) {
    const all =
      name === "check" ? facets.flatMap((f) => f.findings.map((x) => x.check)) : facets.map((f) => f[name]);
    const values = Array.from(new Set(all.filter((v) => v !== "")));
    values.sort();
    for (const value of values) {
      select.add(new Option(value, value));
    }
  }
  // Each status button says how many trails and accounts have a finding of its status.
  for (const toggle of toggles) {
    const n = facets.filter((f) => f.findings.some((x) => x.status === toggle.dataset.status)).length;
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
      needle: folded(search.value),
    };
  }

  function apply() {
    const c = chosen();
    const statuses = new Set(c.statuses);
    const haystack = c.needle === "" ? null : rowTexts();
    for (const unit of units) {
      unit.shown = 0;
    }
    let shown = 0;
    for (let i = 0; i < rows.length; i++) {
      const f = facets[i];
      const show =
        (c.account === "" || f.account === c.account) &&
        (c.region === "" || f.region === c.region) &&
        f.findings.some(
          (x) => (statuses.size === 0 || statuses.has(x.status)) && (c.check === "" || x.check === c.check),
        ) &&
        (haystack === null || haystack[i].includes(c.needle));
      if (rows[i].hidden === show) {
        rows[i].hidden = !show;
      }
      if (show) {
        shown++;
        units[unitIndex[i]].shown++;
      }
    }
    for (const unit of units) {
      if (unit.element.hidden !== (unit.shown === 0)) {
        unit.element.hidden = unit.shown === 0;
      }
    }
    count.textContent = "Showing " + shown + " of " + total + " trails and accounts";
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
          " trails and accounts; the others are hidden.";
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
