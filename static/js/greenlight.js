// Live updates without losing what someone is typing.
//
// Sections refresh on "gl:changed" (sent by the pulse poll and after every action). A section
// in which the person is editing — focus in a field, a form with unsaved input, an open
// <details> form — is not refreshed; it catches up with the next change after that.
(function () {
  "use strict";

  document.addEventListener("input", function (event) {
    var form = event.target.form;
    if (form) form.dataset.dirty = "1";
  });
  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = event.detail.elt.closest && event.detail.elt.closest("form");
    if (form) delete form.dataset.dirty;
  });

  function busy(section) {
    var active = document.activeElement;
    if (active && section.contains(active) && active.matches("input, textarea, select")) return true;
    if (section.querySelector("form[data-dirty]")) return true;
    return Boolean(section.querySelector("details[open] form"));
  }

  document.addEventListener("htmx:confirm", function (event) {
    var trigger = event.detail.triggeringEvent;
    if (!trigger || trigger.type !== "gl:changed") return;
    var section = event.detail.elt;
    var skip = trigger.detail && trigger.detail.skip;
    if ((skip && section.id === skip) || busy(section)) event.preventDefault();
  });
})();
