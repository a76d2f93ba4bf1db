// Progressive enhancement of the follow box and of /interagir: a button that copies the handle
// (or the item's address), and the visitor's own address remembered in this browser (never sent
// to us until they submit a form or follow an item's « Répondre », « Aimer », « Partager », which
// then carry it: one click to their server). Without JavaScript the handle stays selectable
// text, the button stays hidden, the forms and links still work.
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

// An item's « Répondre », « Aimer », « Partager »: with an address remembered, they go straight
// to the visitor's server (through /interagir) instead of asking it again.
for (const link of document.querySelectorAll("a[data-remote-interaction]")) {
  const address = remembered().trim();
  if (!address) break;
  const url = new URL(link.href, window.location.href);
  url.searchParams.set("from", address);
  link.href = url.toString();
}
