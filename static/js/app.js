// The few things htmx does not do, without inline handlers (the Content-Security-Policy
// forbids them): the project picker goes to the project, filter selects apply themselves,
// buttons with data-confirm ask first, and a Find box (data-picker) fills its select with
// the cost codes or vendors that match what is typed; a card's Accept and Reject open their
// confirmation or reason in place, and an Exporting card asks again after 1, 2, 4 … 30 s,
// never while the tab is hidden.
document.addEventListener("change", function (event) {
  var select = event.target;
  if (select.matches("select[data-navigate]") && select.value) {
    window.location = select.value;
  } else if (select.matches("select[data-submit]") && select.form) {
    select.form.submit();
  }
});
document.addEventListener("click", function (event) {
  var opener = event.target.closest("[data-opens], [data-closes]");
  if (opener) {  // without JavaScript these open the card's own page instead
    event.preventDefault();
    var panel = document.getElementById(opener.dataset.opens || opener.dataset.closes);
    var card = panel.closest("article");
    card.querySelectorAll("[data-opens]").forEach(function (other) {
      var shown = other.dataset.opens === opener.dataset.opens && other.getAttribute("aria-expanded") !== "true";
      document.getElementById(other.dataset.opens).hidden = !shown;
      other.setAttribute("aria-expanded", String(shown));
    });
    if (!panel.hidden) {
      panel.scrollIntoView({block: "nearest"});
      (panel.querySelector("textarea") || panel.querySelector("button")).focus({preventScroll: true});
    } else {
      card.querySelector("[data-opens='" + panel.id + "']").focus();
    }
    return;
  }
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
function armPolls() {
  document.querySelectorAll("[data-poll-after]:not([data-polling])").forEach(function (card) {
    card.dataset.polling = "yes";
    window.setTimeout(function ask() {
      if (!document.contains(card)) {
        return;
      }
      if (document.hidden) {
        document.addEventListener("visibilitychange", ask, {once: true});
        return;
      }
      card.dispatchEvent(new CustomEvent("erp-poll"));
    }, Number(card.dataset.pollAfter) * 1000);
  });
}
new MutationObserver(armPolls).observe(document.documentElement, {childList: true, subtree: true});
document.addEventListener("DOMContentLoaded", armPolls);
