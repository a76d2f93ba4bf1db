// The map of /carte and /carte/embed. The server groups items into clusters for the box and zoom
// in view (/carte.geojson?bbox=…&zoom=…), so that the page stays light with 100,000 items; this
// script draws them: a server cluster as a numbered circle that zooms in, single items as markers
// (Leaflet.markercluster spreads out those sharing one position). Without it, the list beside the
// map says the same. All text from the server is set as text, never as HTML.
(function () {
  "use strict";
  var element = document.getElementById("map");
  if (!element || !window.L || !window.fetch) {
    return;
  }
  element.classList.add("map-ready");
  var data = element.dataset;
  // markercluster needs a maxZoom even when no tile layer sets one.
  // No fading: a popup fading out while the next one opens put two popups on the page at once.
  var map = L.map(element, {center: [46.6, 2.4], zoom: 5, minZoom: 2, maxZoom: 18, fadeAnimation: false});
  if (window.archipelTiles) {
    window.archipelTiles(map, data);
  }
  // The first view without animation: animated, it was loaded twice (before and after its
  // move), and the first answer was drawn while the map still moved under the reader's pointer.
  if (data.extent) {
    var e = data.extent.split(",").map(Number);
    if (e[0] === e[2] && e[1] === e[3]) {
      map.setView([e[0], e[1]], 12, {animate: false});
    } else {
      map.fitBounds([[e[0], e[1]], [e[2], e[3]]], {padding: [30, 30], maxZoom: 14, animate: false});
    }
  }
  var clusters = L.layerGroup().addTo(map);
  var points = L.markerClusterGroup({showCoverageOnHover: false, maxClusterRadius: 40}).addTo(map);
  var controller = null;
  var retry = null;  // a view's load to try again, after a 429 or 503
  var status = element.nextElementSibling && element.nextElementSibling.classList.contains("map-status")
    ? element.nextElementSibling : null;  // says so to the reader meanwhile

  function say(words) {
    if (status && status.textContent !== words) {
      status.textContent = words;
    }
  }

  function text(tag, value, className) {
    var node = document.createElement(tag);
    node.textContent = value;
    if (className) {
      node.className = className;
    }
    return node;
  }

  function popup(properties) {
    var box = document.createElement("div");
    box.className = "map-popup";
    var heading = document.createElement("h3");
    var link = text("a", properties.name);
    link.href = properties.url;
    if (data.newWindow) {
      link.target = "_blank";
    }
    heading.appendChild(link);
    box.appendChild(heading);
    if (properties.summary) {
      box.appendChild(text("p", properties.summary));
    }
    var kind = properties.kind === "resource" ? data.labelResource
      : properties.kind === "event" ? data.labelEvent : data.labelFiche;
    box.appendChild(text("p", (properties.island_name || properties.island) + " · " + kind, "meta"));
    return box;
  }

  // Thousands in the page's language's short form, two digits (« 16 k », "3.2K"): four or five
  // digits overflowed the circle onto a second line. The title and alt give the exact count.
  var compact = new Intl.NumberFormat(document.documentElement.lang || "fr", {notation: "compact"});

  function clusterMarker(feature) {
    var count = Number(feature.properties.count);
    var size = count < 10 ? "small" : count < 100 ? "medium" : "large";
    var c = feature.geometry.coordinates;
    var marker = L.marker([c[1], c[0]], {
      icon: L.divIcon({html: "<div><span>" + (count < 1000 ? String(count) : compact.format(count)) + "</span></div>",
                       className: "marker-cluster marker-cluster-" + size, iconSize: [40, 40]}),
      title: data.labelCluster.replace("{count}", count),
      alt: data.labelCluster.replace("{count}", count),
      keyboard: true
    });
    marker.on("click", function () {
      map.setView(marker.getLatLng(), Math.min(map.getZoom() + 2, map.getMaxZoom() || 18));
    });
    return marker;
  }

  function pointMarker(feature) {
    var c = feature.geometry.coordinates;
    var marker = L.marker([c[1], c[0]], {title: feature.properties.name, alt: feature.properties.name});
    marker.bindPopup(popup(feature.properties));
    return marker;
  }

  // What is drawn, by a key of everything drawn from it: a reload keeps the markers it finds
  // again as they are, so a click, a keyboard focus or a popup on one of them lives through it
  // (a marker swapped for its copy between a button's press and its release lost the click).
  var drawn = {};

  function keyOf(feature) {
    return JSON.stringify([feature.geometry.coordinates, feature.properties]);
  }

  function draw(features) {
    var wanted = {};
    features.forEach(function (feature) {
      wanted[keyOf(feature)] = feature;
    });
    var gone = [];
    Object.keys(drawn).forEach(function (key) {
      if (!wanted[key]) {
        var marker = drawn[key];
        delete drawn[key];
        if (clusters.hasLayer(marker)) {
          clusters.removeLayer(marker);
        } else {
          gone.push(marker);
        }
      }
    });
    if (gone.length) {
      points.removeLayers(gone);
    }
    var singles = [];
    Object.keys(wanted).forEach(function (key) {
      if (drawn[key]) {
        return;
      }
      var feature = wanted[key];
      if (feature.properties.cluster) {
        drawn[key] = clusterMarker(feature);
        clusters.addLayer(drawn[key]);
      } else {
        drawn[key] = pointMarker(feature);
        singles.push(drawn[key]);
      }
    });
    if (singles.length) {
      points.addLayers(singles);
    }
  }

  function load() {
    if (retry) {
      window.clearTimeout(retry);
      retry = null;
    }
    var bounds = map.getBounds();
    var box = [Math.max(-180, bounds.getWest()), Math.max(-90, bounds.getSouth()),
               Math.min(180, bounds.getEast()), Math.min(90, bounds.getNorth())].join(",");
    var url = data.geojson + (data.geojson.indexOf("?") < 0 ? "?" : "&") +
              "bbox=" + box + "&zoom=" + map.getZoom();
    if (controller) {
      controller.abort();
    }
    controller = window.AbortController ? new AbortController() : null;
    // data-loaded says that what is drawn is the view in sight: not while its data is on the way.
    element.removeAttribute("data-loaded");
    fetch(url, {credentials: "omit", signal: controller ? controller.signal : undefined})
      .then(function (response) {
        if (response.status === 429 || response.status === 503) {
          // The island is busy searching (web/search_guard.py): this view again once it says
          // to, unless the map moves first (a move loads its own view).
          var seconds = parseInt(response.headers.get("Retry-After"), 10) || 5;
          retry = window.setTimeout(load, Math.min(Math.max(seconds, 1), 60) * 1000);
          say(data.labelBusy || "");
        }
        if (!response.ok) {
          throw new Error("map: HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (collection) {
        draw(collection.features);
        say("");
        element.removeAttribute("data-error");
        element.setAttribute("data-loaded", String(collection.features.length));
      })
      .catch(function (error) {
        if (!error || error.name !== "AbortError") {
          element.setAttribute("data-error", String(error));
        }
      });
  }

  map.on("moveend", load);
  load();
}());
