// Live federated timeline: new items arrive as server-sent events and are put on top.
(function () {
  "use strict";
  var timeline = document.getElementById("timeline");
  if (!timeline || !timeline.dataset.stream || !window.EventSource) return;
  var source = new EventSource(timeline.dataset.stream);
  source.addEventListener("item", function (event) {
    var data = JSON.parse(event.data);
    if (timeline.querySelector('[data-id="' + event.lastEventId + '"]')) return;
    var empty = timeline.querySelector(".empty");
    if (empty) empty.remove();
    var holder = document.createElement("div");
    holder.innerHTML = data.html;
    var card = holder.firstElementChild;
    card.classList.add("new");
    timeline.insertBefore(card, timeline.firstChild);
  });
})();
