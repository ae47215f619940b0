/* CSV export of every table: each <table class="table"> on any page gets a small "CSV" button just
   above it, which downloads the table as the person sees it (header row, then every row, each cell's
   visible text), UTF-8 with a byte-order mark so spreadsheets read "≤" and "—" right.

   Generic by design: a MutationObserver finds tables as pages, drill-downs and refreshes draw them, so
   a table added later needs nothing. The button is a sibling React does not know about; it is only
   ever added (never moves React's nodes), and a button whose table has gone is removed. No inline
   script, no eval: the file is served from /assets and the download is a blob: URL, so a strict
   Content-Security-Policy allows it. Tables on the wall (.wall) or inside an element of class "no-export"
   get no button. window.cityExport.tableCsv(table) is the builder (tests use it). */
(function () {
  var PAIRS = typeof WeakMap === "function" ? new WeakMap() : null;
  var buttons = [];

  function cellText(cell) {
    return (cell.innerText || cell.textContent || "").replace(/\s+/g, " ").trim();
  }

  function quote(value) {
    return /[",\r\n]/.test(value) || /^\s|\s$/.test(value) ? '"' + value.replace(/"/g, '""') + '"' : value;
  }

  function tableCsv(table) {
    var lines = [];
    Array.prototype.forEach.call(table.rows, function (row) {
      var cells = Array.prototype.map.call(row.cells, function (cell) { return quote(cellText(cell)); });
      lines.push(cells.join(","));
    });
    return lines.join("\r\n") + "\r\n";
  }

  function fileName(table) {
    var name = table.id;
    if (!name) {
      var panel = table.closest(".panel, section, .page");
      var head = panel && panel.querySelector("h1, h2, h3");
      name = head ? cellText(head) : "table";
    }
    var path = window.location.pathname.replace(/^\/+|\/+$/g, "").replace(/\//g, "-") || "overview";
    var day = new Date().toISOString().slice(0, 10);
    return (path + "-" + name + "-" + day).toLowerCase().replace(/[^a-z0-9._-]+/g, "-").replace(/-+/g, "-") + ".csv";
  }

  function download(table) {
    var csv = tableCsv(table);
    var name = fileName(table);
    window.cityExport.last = {name: name, csv: csv};
    var url = URL.createObjectURL(new Blob(["\ufeff" + csv], {type: "text/csv;charset=utf-8"}));
    var a = document.createElement("a");
    a.href = url;
    a.download = name;
    a.style.display = "none";
    document.body.appendChild(a);
    a.click();
    document.body.removeChild(a);
    setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
  }

  function addButton(table) {
    if (!table.parentNode || (PAIRS && PAIRS.has(table)) || table.dataset.csvButton) { return; }
    if (table.closest(".no-export, .wall")) { return; }  // a wall screen: nobody there downloads anything
    var bar = document.createElement("div");
    bar.className = "table-export";
    var button = document.createElement("button");
    button.type = "button";
    button.className = "button csv-button";
    button.textContent = "CSV";
    button.title = "Download this table as CSV";
    if (table.id) { button.id = table.id + "-csv"; }
    button.addEventListener("click", function () { download(table); });
    bar.appendChild(button);
    table.parentNode.insertBefore(bar, table);
    if (PAIRS) { PAIRS.set(table, bar); } else { table.dataset.csvButton = "1"; }
    buttons.push({bar: bar, table: table});
  }

  function sweep() {
    // A table React replaced or removed: drop its button (a new table gets its own).
    buttons = buttons.filter(function (pair) {
      if (pair.table.isConnected && pair.bar.isConnected && pair.bar.nextSibling === pair.table) { return true; }
      if (pair.bar.parentNode) { pair.bar.parentNode.removeChild(pair.bar); }
      if (PAIRS) { PAIRS.delete(pair.table); }
      return false;
    });
    document.querySelectorAll("table.table").forEach(addButton);
  }

  var pending = false;
  function schedule() {
    if (pending) { return; }
    pending = true;
    window.requestAnimationFrame(function () { pending = false; sweep(); });
  }

  window.cityExport = {tableCsv: tableCsv, last: null, sweep: sweep};
  function start() {
    new MutationObserver(schedule).observe(document.body, {childList: true, subtree: true});
    sweep();
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
