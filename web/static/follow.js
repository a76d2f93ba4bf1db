// Progressive enhancement of the follow box: a button that copies the handle. Without
// JavaScript the handle stays selectable text and the button stays hidden.
"use strict";
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
