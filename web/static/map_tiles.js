// The background of every map of the island, as the operator set it (`map_tiles`): nothing (a
// plain background), an XYZ tile server, or the island's own PMTiles file, read by HTTP range
// requests (vendor/pmtiles). Shared by map.js and place_picker.js.
window.archipelTiles = function (map, data) {
  "use strict";
  if (data.tiles) {
    L.tileLayer(data.tiles, {attribution: data.attribution || "", maxZoom: 19}).addTo(map);
  } else if (data.pmtiles && window.pmtiles) {
    var source = new pmtiles.PMTiles(data.pmtiles);
    source.getHeader().then(function (header) {
      // Past the file's deepest zoom, its tiles are enlarged rather than missing.
      var layer = pmtiles.leafletRasterLayer(source, {attribution: data.attribution || "",
                                                      maxNativeZoom: header.maxZoom, minNativeZoom: header.minZoom});
      // Decoration, as Leaflet's own tile layers mark it (pmtiles' tiles come without).
      layer.on("tileloadstart", function (event) {
        event.tile.alt = "";
        event.tile.setAttribute("role", "presentation");
      });
      layer.addTo(map);
    });
  }
};
