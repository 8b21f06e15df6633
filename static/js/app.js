// The few things htmx does not do, without inline handlers (the Content-Security-Policy
// forbids them): the project picker goes to the project, filter selects apply themselves,
// buttons with data-confirm ask first, and a Find box (data-picker) fills its select with
// the cost codes or vendors that match what is typed.
document.addEventListener("change", function (event) {
  var select = event.target;
  if (select.matches("select[data-navigate]") && select.value) {
    window.location = select.value;
  } else if (select.matches("select[data-submit]") && select.form) {
    select.form.submit();
  }
});
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-confirm]");
  if (button && !window.confirm(button.dataset.confirm)) {
    event.preventDefault();
  }
});
var pickerTimers = new WeakMap();
document.addEventListener("input", function (event) {
  var box = event.target;
  if (!box.matches("input[data-picker]")) {
    return;
  }
  window.clearTimeout(pickerTimers.get(box));
  pickerTimers.set(box, window.setTimeout(function () {
    var select = document.getElementById(box.getAttribute("aria-controls"));
    var url = box.dataset.picker + "&q=" + encodeURIComponent(box.value) +
      "&selected=" + encodeURIComponent(select.value);
    fetch(url, {credentials: "same-origin", headers: {"HX-Request": "true"}})
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (options) {
        if (options !== null) {
          select.innerHTML = options;
        }
      });
  }, 250));
});
document.addEventListener("keydown", function (event) {
  // Enter in a Find box finds; it does not submit the line's form.
  if (event.key === "Enter" && event.target.matches("input[data-picker]")) {
    event.preventDefault();
  }
});
