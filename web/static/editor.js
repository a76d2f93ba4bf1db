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

// Files too big for the island are refused before they travel: the message appears next to the
// file field, as the server's would (the server checks again; this only spares a long upload
// that would be refused, or cut off by the request size limit).
(function () {
  "use strict";
  var form = document.getElementById("item-form");
  var box = document.getElementById("media-fieldset");
  if (!form || !box) {
    return;
  }
  var perFile = parseInt(box.getAttribute("data-upload-limit"), 10);
  var perRequest = parseInt(box.getAttribute("data-request-limit"), 10);
  var inputs = box.querySelectorAll('input[type="file"]');

  function showError(input, message) {
    var id = "c-" + input.id;
    var existing = document.getElementById(id);
    if (existing) {
      existing.parentNode.removeChild(existing);
    }
    var described = (input.getAttribute("aria-describedby") || "").split(" ").filter(function (part) {
      return part && part !== id;
    });
    if (message) {
      var note = document.createElement("p");
      note.id = id;
      note.className = "field-error";
      note.textContent = message;
      input.parentNode.insertBefore(note, input);
      described.push(id);
      input.setAttribute("aria-invalid", "true");
    } else if (!document.getElementById("e-" + input.id.replace(/^f-/, ""))) {
      input.removeAttribute("aria-invalid");
    }
    input.setAttribute("aria-describedby", described.join(" "));
  }

  function check() {
    var total = 0;
    var first = null;
    Array.prototype.forEach.call(inputs, function (input) {
      var message = "";
      Array.prototype.forEach.call(input.files || [], function (file) {
        total += file.size;
        if (!message && file.size > perFile) {
          message = box.getAttribute("data-too-large").replace("{name}", file.name);
        }
      });
      showError(input, message);
      if (message && !first) {
        first = input;
      }
    });
    if (!first && total > perRequest - 65536 && inputs.length) {
      first = inputs[inputs.length - 1];
      showError(first, box.getAttribute("data-too-much"));
    }
    return first;
  }

  Array.prototype.forEach.call(inputs, function (input) {
    input.addEventListener("change", check);
  });
  form.addEventListener("submit", function (event) {
    var wrong = check();
    if (wrong) {
      event.preventDefault();
      wrong.focus();
    }
  });
})();
