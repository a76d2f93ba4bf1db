// Progressive enhancement of the follow box: a button that copies the handle, and the visitor's
// own address remembered in this browser (never sent to us until they submit). Without
// JavaScript the handle stays selectable text, the button stays hidden, the form still works.
"use strict";
const REMEMBERED = "archipel-follow-from";

for (const button of document.querySelectorAll("button[data-copy]")) {
  if (!navigator.clipboard) continue;
  button.hidden = false;
  button.addEventListener("click", async () => {
    const status = button.parentElement.querySelector(".copy-status");
    try {
      await navigator.clipboard.writeText(button.dataset.copy);
      if (status) status.textContent = button.dataset.copied;
    } catch (error) {
      const handle = button.parentElement.querySelector(".handle");
      if (handle) window.getSelection().selectAllChildren(handle);
    }
  });
}

function remembered() {
  try { return window.localStorage.getItem(REMEMBERED) || ""; } catch (error) { return ""; }
}

for (const form of document.querySelectorAll("form.follow-form")) {
  const input = form.querySelector('input[name="from"]');
  if (!input) continue;
  if (!input.value) input.value = remembered();
  form.addEventListener("submit", () => {
    try { window.localStorage.setItem(REMEMBERED, input.value.trim()); } catch (error) { /* private mode */ }
  });
}
