// Search form: drag-and-drop a photo onto the drop zone, and show a loading indicator on submit.
(function () {
  "use strict";
  var form = document.getElementById("search-form");
  if (!form) return;
  var zone = form.querySelector("[data-drop-zone]");
  var input = form.querySelector("input[type=file][name=image]");
  var hint = form.querySelector("[data-drop-hint]");

  function showFiles() {
    if (!hint || !input.files) return;
    var names = Array.prototype.map.call(input.files, function (f) { return f.name; });
    hint.textContent = names.length ? names.join(", ") : "or drop a picture here";
  }

  if (zone && input) {
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) {
        event.preventDefault();
        zone.classList.add("is-dragging");
      });
    });
    ["dragleave", "drop"].forEach(function (name) {
      zone.addEventListener(name, function () { zone.classList.remove("is-dragging"); });
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      var files = event.dataTransfer && event.dataTransfer.files;
      if (!files || !files.length) return;
      var transfer = new DataTransfer();
      Array.prototype.forEach.call(files, function (file) {
        if (file.type.indexOf("image/") === 0) transfer.items.add(file);
      });
      input.files = transfer.files;
      input.dispatchEvent(new Event("change"));
    });
    input.addEventListener("change", function () {
      showFiles();
      // A new photo replaces the earlier one the page kept.
      var kept = form.querySelector("[data-kept-photo]");
      if (kept && input.files && input.files.length) kept.hidden = true;
    });
  }

  form.addEventListener("submit", function () {
    form.classList.add("is-loading");
    var button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
  });
})();
