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
  var box = form; // the limits are on the form: the cover is among the essentials, the files below
  if (!form || !form.hasAttribute("data-upload-limit")) {
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
      if (wrong.closest("details")) {
        wrong.closest("details").open = true; // a closed section hides it
      }
      wrong.focus();
    }
  });
})();

// Files are sent as soon as they are chosen: the island keeps them, attached to nothing yet, and
// the form carries them by id (a ticked box per file, as the server renders them after a
// preview). So a preview, a form sent back with errors, an autosaved draft or a closed tab never
// asks to choose them again, and the live preview shows them. A submit waits for the uploads.
(function () {
  "use strict";
  var form = document.getElementById("item-form");
  var box = form;
  if (!form || !form.hasAttribute("data-upload-limit") || !form.getAttribute("data-upload-url") || !window.fetch ||
      !window.FormData) {
    return;
  }
  var url = form.getAttribute("data-upload-url");
  var token = form.querySelector('input[name="csrf_token"]').value;
  var perFile = parseInt(box.getAttribute("data-upload-limit"), 10);
  var waiting = [];
  var counter = 0;

  function keepBox(name, id, filename) {
    var item = document.createElement(name === "pending_cover" ? "p" : "li");
    var check = document.createElement("input");
    counter += 1;
    check.type = "checkbox";
    check.name = name;
    check.value = id;
    check.checked = true;
    check.id = "f-sent-" + counter;
    var label = document.createElement("label");
    label.htmlFor = check.id;
    label.className = "inline";
    label.textContent = form.getAttribute("data-label-keep").replace("{name}", filename);
    item.appendChild(check);
    item.appendChild(document.createTextNode(" "));
    item.appendChild(label);
    return item;
  }

  function placeCover(id, filename) {
    Array.prototype.forEach.call(form.querySelectorAll('input[name="pending_cover"]'), function (old) {
      old.checked = false; // the newest choice replaces the one before
    });
    var slot = document.getElementById("pending-cover-slot");
    slot.textContent = "";
    slot.appendChild(keepBox("pending_cover", id, filename));
  }

  function placeAttachment(id, filename) {
    var fieldset = document.getElementById("pending-attachments");
    fieldset.hidden = false;
    fieldset.querySelector("ul").appendChild(keepBox("pending_attachment", id, filename));
    var section = fieldset.closest("details");
    if (section) {
      section.open = true; // the author sees where the file went
    }
  }

  function report(input, message) {
    var note = document.getElementById("u-" + input.id);
    if (!note) {
      note = document.createElement("p");
      note.id = "u-" + input.id;
      note.className = "field-error";
      note.setAttribute("role", "alert");
      input.parentNode.insertBefore(note, input);
    }
    note.textContent = message;
  }

  function send(input, file, isCover) {
    var body = new FormData();
    body.append("file", file, file.name);
    return fetch(url, {method: "POST", body: body, credentials: "same-origin", headers: {"X-CSRF-Token": token}})
      .then(function (response) {
        return response.json().then(function (answer) {
          if (!response.ok) {
            throw new Error(answer.error || String(response.status));
          }
          if (isCover && answer.content_type.indexOf("image/") !== 0) {
            throw new Error("JPEG, PNG, WebP, GIF");
          }
          (isCover ? placeCover : placeAttachment)(answer.id, answer.filename);
        });
      }).catch(function (error) {
        report(input, form.getAttribute("data-label-upload-failed").replace("{name}", file.name)
          .replace("{reason}", error.message));
      });
  }

  function chosen(event) {
    var input = event.target;
    var files = Array.prototype.slice.call(input.files || []);
    if (!files.length || files.some(function (file) { return file.size > perFile; })) {
      return; // the size check shows its message; the server would refuse them anyway
    }
    var isCover = input.name === "cover_file";
    var done = Promise.all(files.map(function (file) { return send(input, file, isCover); })).then(function () {
      input.value = ""; // sent: the form carries them by id now
      form.dispatchEvent(new Event("input")); // the live preview and the autosave notice them
    });
    waiting.push(done);
    done.then(function () { waiting.splice(waiting.indexOf(done), 1); });
  }

  Array.prototype.forEach.call(box.querySelectorAll('input[type="file"]'), function (input) {
    input.addEventListener("change", chosen);
  });
  form.addEventListener("submit", function (event) {
    if (!waiting.length) {
      return;
    }
    event.preventDefault();
    var submitter = event.submitter;
    Promise.all(waiting.slice()).then(function () {
      form.requestSubmit(submitter);
    });
  });
})();

// Drafts save themselves: every few seconds, when the form changed, it is posted to
// /espace/brouillon (the island keeps it for this person and this form, on any device); just
// before the page is hidden or closed it is sent once more with sendBeacon. Leaving with changes
// the island does not have yet asks first.
(function () {
  "use strict";
  var form = document.getElementById("item-form");
  if (!form || !form.getAttribute("data-draft-url") || !window.fetch || !window.FormData || !window.URLSearchParams) {
    return;
  }
  var url = form.getAttribute("data-draft-url");
  var status = document.getElementById("autosave-status");
  var INTERVAL = 3000;
  var leaving = false;
  var sending = false;

  function body() {
    var data = new URLSearchParams();
    new FormData(form).forEach(function (value, name) {
      if (typeof value === "string" && name !== "action") {
        data.append(name, value);
      }
    });
    return data.toString();
  }

  var saved = body(); // what the page was rendered with: the saved item or the saved draft

  function save() {
    var current = body();
    if (current === saved || sending || leaving) {
      return; // leaving: the item is being saved, and its save removes the draft
    }
    sending = true;
    fetch(url, {
      method: "POST", body: current, credentials: "same-origin",
      headers: {"Content-Type": "application/x-www-form-urlencoded"}
    }).then(function (response) {
      if (response.ok) {
        saved = current;
        var time = new Date().toLocaleTimeString(document.documentElement.lang || undefined,
                                                 {hour: "2-digit", minute: "2-digit"});
        status.textContent = form.getAttribute("data-label-saved").replace("{time}", time);
      }
    }).catch(function () {
      status.textContent = form.getAttribute("data-label-unsaved");
    }).then(function () {
      sending = false;
    });
  }

  window.setInterval(save, INTERVAL);
  document.addEventListener("visibilitychange", function () {
    var current = body();
    if (document.visibilityState === "hidden" && !leaving && current !== saved && navigator.sendBeacon) {
      if (navigator.sendBeacon(url, new Blob([current], {type: "application/x-www-form-urlencoded"}))) {
        saved = current;
      }
    }
  });
  form.addEventListener("submit", function (event) {
    leaving = !event.defaultPrevented; // held back (a file too big, uploads under way): still here
  });
  window.addEventListener("beforeunload", function (event) {
    if (leaving || body() === saved) {
      return;
    }
    event.preventDefault();
    event.returnValue = "";
  });
})();
