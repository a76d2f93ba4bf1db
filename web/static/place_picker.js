// The item form's territory: find a French commune in the gazetteer shipped with the island
// (/carte/communes, never a network service) or click a map, and the place, region, latitude
// and longitude fields are filled in. Those fields stay the form's truth: without this script
// they are typed by hand, and typing in them moves the marker.
(function () {
  "use strict";
  var picker = document.getElementById("place-picker");
  var mapElement = document.getElementById("place-map");
  if (!picker || !mapElement || !window.L || !window.fetch) {
    return;
  }
  var data = picker.dataset;
  var search = document.getElementById("f-commune");
  var results = document.getElementById("commune-results");
  var status = document.getElementById("place-status");
  var fields = {};
  ["place", "region", "latitude", "longitude"].forEach(function (name) {
    fields[name] = document.getElementById("f-" + name);
  });
  picker.hidden = false;
  var map = L.map(mapElement, {center: [46.6, 2.4], zoom: 5, minZoom: 2, maxZoom: 18});
  var section = picker.closest("details"); // in a closed section, the map has no size until opened
  if (section) {
    section.addEventListener("toggle", function () {
      if (section.open) {
        map.invalidateSize();
      }
    });
  }
  if (window.archipelTiles) {
    window.archipelTiles(map, data);
  }
  var marker = null;

  function show(lat, lon, zoom) {
    if (marker) {
      marker.setLatLng([lat, lon]);
    } else {
      marker = L.marker([lat, lon], {title: data.labelMarker, alt: data.labelMarker}).addTo(map);
    }
    map.setView([lat, lon], zoom || Math.max(map.getZoom(), 10));
  }

  function place(lat, lon, label, zoom) {
    fields.latitude.value = lat.toFixed(5);
    fields.longitude.value = lon.toFixed(5);
    show(lat, lon, zoom);
    status.textContent = data.labelPlaced.replace("{place}", label);
  }

  function fromFields() {
    var lat = parseFloat(fields.latitude.value.replace(",", "."));
    var lon = parseFloat(fields.longitude.value.replace(",", "."));
    if (isFinite(lat) && isFinite(lon) && Math.abs(lat) <= 90 && Math.abs(lon) <= 180) {
      show(lat, lon, 11);
    }
  }

  map.on("click", function (event) {
    var point = event.latlng.wrap();
    place(point.lat, point.lng, point.lat.toFixed(5) + ", " + point.lng.toFixed(5));
  });
  fields.latitude.addEventListener("change", fromFields);
  fields.longitude.addEventListener("change", fromFields);
  fromFields();

  function choose(commune) {
    fields.place.value = commune.name;
    fields.region.value = commune.region;
    place(commune.latitude, commune.longitude, commune.name + " (" + commune.departement + ")", 11);
    results.textContent = "";
  }

  function list(communes) {
    results.textContent = "";
    communes.forEach(function (commune) {
      var item = document.createElement("li");
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = commune.name + " (" + commune.postcode + ", " + commune.region + ")";
      button.addEventListener("click", function () { choose(commune); });
      item.appendChild(button);
      results.appendChild(item);
    });
    status.textContent = communes.length ? data.labelFound.replace("{count}", communes.length) : data.labelNone;
  }

  var timer = null;
  var controller = null;
  search.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () {
      var query = search.value.trim();
      if (!query) {
        results.textContent = "";
        return;
      }
      if (controller) {
        controller.abort();
      }
      controller = window.AbortController ? new AbortController() : null;
      fetch(data.communesUrl + "?q=" + encodeURIComponent(query), {signal: controller ? controller.signal : undefined})
        .then(function (response) { return response.ok ? response.json() : []; })
        .then(list)
        .catch(function () {});
    }, 200);
  });
  // Enter in the search field picks the first commune rather than submitting the whole form.
  search.addEventListener("keydown", function (event) {
    if (event.key === "Enter") {
      event.preventDefault();
      var first = results.querySelector("button");
      if (first) {
        first.click();
      }
    }
  });
}());
