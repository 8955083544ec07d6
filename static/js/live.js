// Live pages without reloads: a page whose jobs are still moving carries data-live-url (a small JSON
// view of their states and progress) and data-live-key (the states it was drawn with). Progress is
// updated in place (an aria-live region tells screen readers); when a state changes (a job finishes,
// a result comes back from cold storage) the page is reloaded once to show what is new. Polls
// every 3 s while the tab is visible and every 30 s while it is hidden.
(function () {
  "use strict";
  const root = document.querySelector("[data-live-url]");
  if (!root) return;
  const url = root.dataset.liveUrl;
  const key = root.dataset.liveKey;
  let timer = null;

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(poll, document.hidden ? 30000 : 3000);
  }

  function showProgress(job) {
    document.querySelectorAll('[data-progress-for="' + job.id + '"]').forEach(function (element) {
      const percent = String(job.progress);
      if (element.getAttribute("role") === "progressbar") {
        element.setAttribute("aria-valuenow", percent);
        const bar = element.querySelector(".progress-bar");
        if (bar) {
          bar.style.width = percent + "%";
          bar.textContent = percent + "%";
        }
      } else {
        element.textContent = percent + "%";
      }
    });
  }

  function showShards(job) {
    document.querySelectorAll('[data-shards-for="' + job.id + '"]').forEach(function (element) {
      element.hidden = !job.shards;
      element.textContent = "Split over the annotators: " + job.shards;
    });
  }

  async function poll() {
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (response.ok) {
        const answer = await response.json();
        if (answer.key !== key) {
          window.location.reload();
          return;
        }
        answer.jobs.forEach(showProgress);
        answer.jobs.forEach(showShards);
      }
    } catch (error) {
      // (offline for a moment, or the server restarting: the next poll tries again)
    }
    schedule();
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) poll();
    else schedule();
  });
  schedule();
})();
