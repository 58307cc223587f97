// Injected by tests/browser.py into a copy of a report page, then run by headless Chromium
// (--dump-dom). It measures the laid-out page and writes what it found, as JSON, into a
// pre element (id wheelfleet-check) added at the end of the body.
(() => {
  const slack = 0.5; // sub-pixel rounding
  const viewport = document.documentElement.clientWidth;
  const found = {
    title: document.title,
    viewport,
    scroll_width: document.documentElement.scrollWidth,
    svg: null,
    rows: [],
    jobs: [],
    legend: [...document.querySelectorAll(".legend li")].map((li) => li.textContent.trim()),
    figures: Object.fromEntries(
      [...document.querySelectorAll("table.timeline-figures tr")].map((tr) => [
        tr.querySelector("th").textContent,
        tr.querySelector("td").textContent,
      ]),
    ),
    overflow: [],
  };
  const describe = (el) => {
    const text = (el.textContent || "").trim().slice(0, 40);
    return `${el.tagName.toLowerCase()}.${el.getAttribute("class") || ""} "${text}"`;
  };
  const outside = (inner, outer) =>
    inner.left < outer.left - slack ||
    inner.right > outer.right + slack ||
    inner.top < outer.top - slack ||
    inner.bottom > outer.bottom + slack;

  const svg = document.querySelector("svg.timeline-chart");
  if (svg) {
    const box = svg.getBoundingClientRect();
    found.svg = { width: box.width, height: box.height, left: box.left, right: box.right };
    // Every drawn element of the chart lies inside the chart.
    for (const el of svg.querySelectorAll("rect, line, text")) {
      const rect = el.getBoundingClientRect();
      if (outside(rect, box)) found.overflow.push(`outside the SVG: ${describe(el)}`);
    }
    for (const row of svg.querySelectorAll("g.row")) {
      found.rows.push({
        host: row.dataset.host,
        slot: Number(row.dataset.slot),
        idle: row.classList.contains("idle"),
        label: row.querySelector("text").textContent,
      });
    }
    for (const group of svg.querySelectorAll("g.job")) {
      const steps = [...group.querySelectorAll("rect.step")];
      const left = Math.min(...steps.map((r) => r.getBoundingClientRect().left));
      const right = Math.max(...steps.map((r) => r.getBoundingClientRect().right));
      const label = group.querySelector("text.bar-label");
      if (label) {
        const text = label.getBoundingClientRect();
        // A label sits inside its bar: it never spills onto the next job.
        if (text.left < left - slack || text.right > right + slack) {
          found.overflow.push(`label wider than its bar: ${describe(label)}`);
        }
      }
      found.jobs.push({
        job: group.dataset.job,
        steps: Number(group.dataset.steps),
        rects: steps.length,
        kinds: steps.map((r) => r.dataset.kind),
        failed: group.classList.contains("failed"),
        title: group.querySelector(":scope > title").textContent,
        label: label ? label.textContent : null,
        width: right - left,
        painted: steps.every((r) => getComputedStyle(r).fill !== "none"),
      });
    }
  }
  // Nothing runs off the page's right edge, except inside a box that scrolls (wide tables).
  const scrolls = (el) => ["auto", "scroll"].includes(getComputedStyle(el).overflowX);
  for (const el of document.body.querySelectorAll("*")) {
    if (el.closest("svg") || (el.parentElement && el.parentElement.closest(".scroll"))) continue;
    const rect = el.getBoundingClientRect();
    if (rect.width === 0 && rect.height === 0) continue;
    if (rect.right > viewport + slack && !scrolls(el)) {
      found.overflow.push(`outside the viewport: ${describe(el)}`);
    }
  }
  const out = document.createElement("pre");
  out.id = "wheelfleet-check";
  out.textContent = JSON.stringify(found);
  document.body.appendChild(out);
})();
