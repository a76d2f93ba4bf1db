// The item form's live preview: as the author types, the form is sent (debounced) to
// /espace/apercu, which answers with the same sanitised HTML as the published page, and the
// preview region (aria-live="polite") shows it. Without this script, the "Prévisualiser" button
// does the same with a page load. The CSP allows no inline script: this file is all there is.
(function () {
  "use strict";
  var form = document.getElementById("item-form");
  var region = document.getElementById("preview");
  if (!form || !region || !window.fetch || !window.FormData || !window.URLSearchParams) {
    return;
  }
  var url = form.getAttribute("data-preview-url");
  var tokenField = form.querySelector('input[name="csrf_token"]');
  var token = tokenField ? tokenField.value : "";
  var DELAY = 400;
  var timer = null;
  var controller = null;
  var lastSent = null;

  function formBody() {
    var body = new URLSearchParams();
    new FormData(form).forEach(function (value, name) {
      if (typeof value === "string" && name !== "action") {
        body.append(name, value);
      }
    });
    return body.toString();
  }

  function update() {
    var body = formBody();
    if (body === lastSent) {
      return;
    }
    lastSent = body;
    if (controller) {
      controller.abort();
    }
    controller = window.AbortController ? new AbortController() : null;
    fetch(url, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: {"Content-Type": "application/x-www-form-urlencoded", "X-CSRF-Token": token},
      signal: controller ? controller.signal : undefined
    }).then(function (response) {
      if (!response.ok) {
        throw new Error("preview: HTTP " + response.status);
      }
      return response.text();
    }).then(function (html) {
      // Built by the server from escaped text and sanitised HTML (archipel.text.sanitize_html).
      region.innerHTML = html;
      region.setAttribute("data-updated", String(Date.now()));
    }).catch(function (error) {
      if (error && error.name === "AbortError") {
        return;
      }
      lastSent = null; // try again on the next keystroke
    });
  }

  function schedule() {
    window.clearTimeout(timer);
    timer = window.setTimeout(update, DELAY);
  }

  form.addEventListener("input", schedule);
  form.addEventListener("change", schedule);
  lastSent = formBody(); // the server rendered the preview of what the page holds now
})();
