// Progressive enhancement only: every form works without this file.
// "Add why" / "Remove" on the 5-Whys form act in place instead of a round trip.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-why-add], [data-why-remove]");
  if (!button) return;
  const list = document.querySelector("[data-why-list]");
  if (!list) return;
  event.preventDefault();
  if (button.hasAttribute("data-why-add")) {
    const rows = list.querySelectorAll("[data-why-row]");
    if (rows.length >= Number(list.dataset.max || 10)) return;
    const copy = rows[rows.length - 1].cloneNode(true);
    copy.querySelectorAll("textarea, input").forEach((el) => { el.value = ""; el.removeAttribute("aria-invalid"); });
    copy.querySelectorAll(".error").forEach((el) => el.remove());
    list.appendChild(copy);
  } else {
    const row = button.closest("[data-why-row]");
    if (list.querySelectorAll("[data-why-row]").length > 1) row.remove();
  }
  list.querySelectorAll("[data-why-row]").forEach((row, i) => {
    row.querySelectorAll("label").forEach((label) => { label.textContent = `Why ${i + 1}`; label.htmlFor = `f-why-${i}`; });
    row.querySelectorAll("textarea").forEach((el) => { el.id = `f-why-${i}`; });
    row.querySelectorAll("[data-why-remove]").forEach((b) => { b.value = String(i); b.setAttribute("aria-label", `Remove why ${i + 1}`); });
  });
  const focus = list.querySelector("[data-why-row]:last-child textarea");
  if (focus && button.hasAttribute("data-why-add")) focus.focus();
});
