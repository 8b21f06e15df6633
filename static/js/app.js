// The few things htmx does not do, without inline handlers (the Content-Security-Policy
// forbids them): the project picker goes to the project, filter selects apply themselves,
// and buttons with data-confirm ask first.
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
