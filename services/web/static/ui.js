// Progressive enhancement only: every form works without this file.
// "Add a why" / "Remove" on the 5-Whys form act in place instead of a round trip,
// and keep the keyboard focus where the person works: on the new row's "Why" after
// "Add", on the row that took the removed one's place after "Remove" (or on "Add a
// why" when the last row went). Without this file the page comes back with the
// same focus (autofocus, pages/why_form.py).
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-why-add], [data-why-remove]");
  if (!button) return;
  const list = document.querySelector("[data-why-list]");
  if (!list) return;
  event.preventDefault();
  const adding = button.hasAttribute("data-why-add");
  let focusIndex = null;
  if (adding) {
    const rows = list.querySelectorAll("[data-why-row]");
    if (rows.length >= Number(list.dataset.max || 10)) return;
    const copy = rows[rows.length - 1].cloneNode(true);
    copy.querySelectorAll("textarea, input").forEach((el) => {
      el.value = "";
      el.removeAttribute("aria-invalid");
      el.removeAttribute("aria-describedby");
      el.removeAttribute("autofocus");
    });
    copy.querySelectorAll(".error").forEach((el) => el.remove());
    copy.querySelectorAll(".invalid").forEach((el) => el.classList.remove("invalid"));
    list.appendChild(copy);
    focusIndex = rows.length;
  } else {
    const row = button.closest("[data-why-row]");
    const rows = Array.from(list.querySelectorAll("[data-why-row]"));
    if (rows.length <= 1) return;
    focusIndex = rows.indexOf(row);
    row.remove();
  }
  // Renumber: each row has a "why" and a "because" part, labelled "Why n" / "Because n".
  const rows = list.querySelectorAll("[data-why-row]");
  rows.forEach((row, i) => {
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
  const target = focusIndex < rows.length
    ? rows[focusIndex].querySelector("textarea[data-why-part='why']")
    : document.querySelector("[data-why-add]");
  if (target) target.focus();
});

// After a round trip the focus would start at the top of the page body. Put it where
// the answer is: an autofocus field wins (the browser's own); else the first field a
// refused form marks invalid; else the section the address names (#root-cause, after
// "Revise" or "Link to this CAPA"), on its heading; else the flash message (after
// Watch/Unwatch). Headings and the flashes carry tabindex="-1" in the markup so they
// can take the focus without entering the Tab order.
// On "load", not earlier: opening a page at a fragment moves the focus to the
// fragment's target (or the page) once the document is parsed, which would undo it.
window.addEventListener("load", () => {
  // A page opened at a fragment (a refused form's "...#triage") ignores autofocus.
  const auto = document.querySelector("[autofocus]");
  if (auto) {
    if (document.activeElement !== auto) auto.focus();
    return;
  }
  const named = location.hash.length > 1 ? document.getElementById(decodeURIComponent(location.hash.slice(1))) : null;
  const invalid = (named || document).querySelector("[aria-invalid='true']");
  let target = invalid;
  if (!target && named) {
    target = named.matches("h1, h2, h3, [tabindex]") ? named : named.querySelector("h2, h3");
  }
  if (!target) target = document.querySelector(".flashes");
  if (!target) return;
  if (!target.matches("input, select, textarea, button, a[href], [tabindex]")) {
    target.setAttribute("tabindex", "-1");
  }
  target.focus();
});
