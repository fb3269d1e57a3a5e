// The create form: show only the parts the chosen kind uses (everything shows without
// JavaScript), and print each LoRA slider's weight beside it.
(function () {
  "use strict";
  var form = document.getElementById("create-form");
  if (!form) return;

  function showKind() {
    var checked = form.querySelector('input[name="kind"]:checked');
    var kind = checked ? checked.value : "text";
    form.querySelectorAll("[data-kinds]").forEach(function (section) {
      section.hidden = section.dataset.kinds.split(" ").indexOf(kind) === -1;
    });
  }

  form.addEventListener("change", function (event) {
    if (event.target.name === "kind") showKind();
  });
  showKind();

  form.querySelectorAll('input[type="range"][data-output]').forEach(function (range) {
    var output = document.getElementById(range.dataset.output);
    function update() { output.textContent = Number(range.value).toFixed(2); }
    range.addEventListener("input", update);
    update();
  });
})();
