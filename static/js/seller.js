// Seller dashboard: progressive enhancement only; every form works without this file.
(function () {
  "use strict";

  // A working indicator on every form that posts (the button is disabled while it runs).
  document.querySelectorAll("form").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      var question = form.getAttribute("data-confirm");
      if (question && !window.confirm(question)) { event.preventDefault(); return; }
      form.classList.add("is-loading");
      form.setAttribute("aria-busy", "true");
      window.setTimeout(function () {
        form.querySelectorAll("button[type=submit], button:not([type])").forEach(function (b) { b.disabled = true; });
      }, 0);
    });
  });

  // Drag-and-drop upload over a plain <input type=file multiple>.
  document.querySelectorAll(".dropzone").forEach(function (zone) {
    var input = document.getElementById(zone.getAttribute("data-for"));
    if (!input || typeof DataTransfer === "undefined") return;
    var list = zone.querySelector(".dropzone-files");
    zone.hidden = false;
    function show() {
      list.innerHTML = "";
      Array.prototype.forEach.call(input.files, function (f) {
        var li = document.createElement("li"); li.textContent = f.name; list.appendChild(li);
      });
    }
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (e) { e.preventDefault(); zone.classList.add("dragging"); });
    });
    ["dragleave", "drop"].forEach(function (name) {
      zone.addEventListener(name, function () { zone.classList.remove("dragging"); });
    });
    zone.addEventListener("drop", function (e) {
      e.preventDefault();
      var merged = new DataTransfer();
      Array.prototype.forEach.call(input.files, function (f) { merged.items.add(f); });
      Array.prototype.forEach.call(e.dataTransfer.files, function (f) {
        if (f.type.indexOf("image/") === 0) merged.items.add(f);
      });
      input.files = merged.files;
      show();
    });
    input.addEventListener("change", show);
  });

  // Drag to reorder the gallery; the position inputs follow, so "Save photos" stores the order.
  document.querySelectorAll(".gallery-edit").forEach(function (gallery) {
    var dragged = null;
    function renumber() {
      gallery.querySelectorAll(".gallery-item").forEach(function (item, i) {
        var input = item.querySelector(".position-input"); if (input) input.value = i + 1;
      });
    }
    gallery.addEventListener("dragstart", function (e) {
      dragged = e.target.closest(".gallery-item");
      if (dragged) { dragged.classList.add("dragging"); e.dataTransfer.effectAllowed = "move"; }
    });
    gallery.addEventListener("dragend", function () {
      if (dragged) dragged.classList.remove("dragging"); dragged = null; renumber();
    });
    gallery.addEventListener("dragover", function (e) {
      var over = e.target.closest(".gallery-item");
      if (!dragged || !over || over === dragged) return;
      e.preventDefault();
      var box = over.getBoundingClientRect();
      var after = e.clientY > box.top + box.height / 2;
      gallery.insertBefore(dragged, after ? over.nextSibling : over);
    });
  });

  // Import progress: poll each unfinished job's JSON status.
  document.querySelectorAll(".import-job").forEach(function (item) {
    var url = item.getAttribute("data-status-url");
    function poll() {
      var state = item.getAttribute("data-status");
      if (state === "done" || state === "failed") return;
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (job) {
          item.setAttribute("data-status", job.status);
          item.querySelector(".job-status").textContent = job.status;
          var bar = item.querySelector("progress"); bar.value = job.percent; bar.textContent = job.percent + "%";
          var counts = job.processed + "/" + job.total + " rows";
          if (job.status === "done") {
            counts += ": " + job.created + " created, " + job.updated + " updated, " + job.unchanged +
              " unchanged, " + job.errors + " with errors";
          }
          item.querySelector(".job-counts").textContent = counts;
          item.querySelector(".job-message").textContent = job.message || "";
          var link = item.querySelector(".job-errors");
          if (job.error_report_url) { link.href = job.error_report_url; link.hidden = false; }
          window.setTimeout(poll, 1000);
        })
        .catch(function () { window.setTimeout(poll, 3000); });
    }
    poll();
  });
})();
