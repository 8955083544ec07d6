// A table wider than its box (the user added columns): the box scrolls both ways with the header
// kept in sight, and a second horizontal scrollbar above the table moves it too.
(function () {
  for (const box of document.querySelectorAll("[data-table-box]")) {
    const top = document.getElementById(box.dataset.tableBox);
    if (!top) continue;
    const inner = top.firstElementChild;
    function fit() {
      const wide = box.scrollWidth > box.clientWidth + 1;
      box.classList.toggle("gas-scrollbox", wide);
      top.hidden = !wide;
      inner.style.width = box.scrollWidth + "px";
    }
    let moving = false;  // (each follows the other without echoing back)
    top.addEventListener("scroll", () => { if (!moving) { moving = true; box.scrollLeft = top.scrollLeft; moving = false; } });
    box.addEventListener("scroll", () => { if (!moving) { moving = true; top.scrollLeft = box.scrollLeft; moving = false; } });
    window.addEventListener("resize", fit);
    box.addEventListener("shown.bs.collapse", fit);
    box.addEventListener("hidden.bs.collapse", fit);
    fit();
  }
})();
