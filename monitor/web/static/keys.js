// Keyboard navigation: "/" focuses the search box, "j"/"k" move through the list, "o" opens.
(function () {
  "use strict";
  var current = -1;
  function items() { return Array.prototype.slice.call(document.querySelectorAll("[data-nav]")); }
  function typing(ev) {
    var t = ev.target;
    return t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
  }
  function move(by) {
    var list = items();
    if (!list.length) { return; }
    if (current >= 0 && list[current]) { list[current].classList.remove("current"); }
    current = Math.max(0, Math.min(list.length - 1, current + by));
    list[current].classList.add("current");
    list[current].scrollIntoView({ block: "nearest" });
  }
  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) { return; }
    if (ev.key === "Escape" && typing(ev)) { ev.target.blur(); return; }
    if (typing(ev)) { return; }
    if (ev.key === "/") {
      var box = document.getElementById("q");
      if (box) { ev.preventDefault(); box.focus(); box.select(); }
    } else if (ev.key === "j") {
      move(1);
    } else if (ev.key === "k") {
      move(-1);
    } else if (ev.key === "o") {
      var list = items();
      var link = current >= 0 && list[current] ? list[current].querySelector("a.title, a") : null;
      if (link) { window.location.href = link.href; }
    }
  });
})();
