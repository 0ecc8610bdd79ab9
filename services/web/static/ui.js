// Progressive enhancement only: every form works without this file.
// "Add a why" / "Remove" on the 5-Whys form act in place instead of a round trip.
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
    copy.querySelectorAll("textarea, input").forEach((el) => {
      el.value = "";
      el.removeAttribute("aria-invalid");
      el.removeAttribute("aria-describedby");
    });
    copy.querySelectorAll(".error").forEach((el) => el.remove());
    copy.querySelectorAll(".invalid").forEach((el) => el.classList.remove("invalid"));
    list.appendChild(copy);
  } else {
    const row = button.closest("[data-why-row]");
    if (list.querySelectorAll("[data-why-row]").length > 1) row.remove();
  }
  // Renumber: each row has a "why" and a "because" part, labelled "Why n" / "Because n".
  list.querySelectorAll("[data-why-row]").forEach((row, i) => {
    row.querySelectorAll("label[data-why-part]").forEach((label) => {
      const part = label.dataset.whyPart;
      label.textContent = `${part === "why" ? "Why" : "Because"} ${i + 1}`;
      label.htmlFor = `f-${part}-${i}`;
    });
    row.querySelectorAll("textarea[data-why-part]").forEach((el) => { el.id = `f-${el.dataset.whyPart}-${i}`; });
    row.querySelectorAll(".error").forEach((el) => { el.id = `e-why-${i}`; });
    row.querySelectorAll("[aria-describedby^='e-why-']").forEach((el) => { el.setAttribute("aria-describedby", `e-why-${i}`); });
    row.querySelectorAll("[data-why-remove]").forEach((b) => { b.value = String(i); b.setAttribute("aria-label", `Remove why ${i + 1}`); });
  });
  const focus = list.querySelector("[data-why-row]:last-child textarea");
  if (focus && button.hasAttribute("data-why-add")) focus.focus();
});
