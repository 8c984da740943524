// Duplicate moderation: keyboard shortcuts on the pair page (c confirm, d dismiss, e escalate,
// s skip) and "select all" on the queue. Plain JS, no build step; the pages work without it.
(function () {
  "use strict";

  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    var control = document.querySelector('[data-key="' + event.key.toLowerCase() + '"]');
    if (!control) return;
    event.preventDefault();
    if (control.tagName === "A") {
      window.location.href = control.href;
    } else {
      control.click();
    }
  });

  var selectAll = document.getElementById("select-all");
  if (selectAll) {
    selectAll.addEventListener("change", function () {
      document.querySelectorAll('input[name="candidates"]:not([disabled])').forEach(function (box) {
        box.checked = selectAll.checked;
      });
    });
  }
})();
