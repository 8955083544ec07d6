// The variant browser's live count: as a filter changes, ask how many variants match (before Apply).
(function () {
  const form = document.getElementById("filters");
  if (!form) return;
  const out = document.getElementById("live-count");
  let timer = null;
  let asked = 0;
  function update() {
    const params = new URLSearchParams(new FormData(form));
    for (const [key, value] of [...params.entries()]) if (!value) params.delete(key);
    const ticket = ++asked;
    fetch(form.dataset.countUrl + "?" + params.toString(), {headers: {"Accept": "application/json"}})
      .then((response) => response.json())
      .then((body) => {
        if (ticket !== asked) return;
        out.textContent = body.error ? body.error : body.count.toLocaleString() + " match";
        out.classList.toggle("text-danger", Boolean(body.error));
      })
      .catch(() => { out.textContent = ""; });
  }
  // the consequence picker's search shows the terms that contain what is typed (it filters nothing itself)
  const search = document.getElementById("f-consequence-search");
  if (search) {
    search.addEventListener("input", (event) => {
      event.stopPropagation();
      const text = search.value.trim().toLowerCase();
      for (const row of form.querySelectorAll("#f-consequence [data-term]")) {
        row.hidden = Boolean(text) && !row.dataset.term.toLowerCase().includes(text);
      }
    });
  }
  form.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(update, 250); });
  form.addEventListener("change", () => { clearTimeout(timer); timer = setTimeout(update, 100); });
})();
