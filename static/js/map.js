// The prevention map: villages, zones, roads, points of interest and gates from /api/map/layers.
// No tiles unless LIANFANG_TILE_URL is set: the field often has no internet.
document.addEventListener("DOMContentLoaded", function () {
  var el = document.getElementById("map");
  if (!el || !window.L) return;
  var map = L.map(el, {preferCanvas: true});
  map.attributionControl.setPrefix('地图库 <a href="https://leafletjs.com">Leaflet</a>');  // credited, in Chinese
  if (el.dataset.tileUrl) {
    L.tileLayer(el.dataset.tileUrl, {maxZoom: 19, attribution: el.dataset.tileAttribution || ""}).addTo(map);
  }
  var poiColours = {party_station: "#c0392b", material_store: "#8e44ad", assessment_lot: "#e67e22",
                    isolation_site: "#2c3e50", sampling_site: "#16a085"};
  var roadWeight = {primary: 5, secondary: 4, tertiary: 3, residential: 2, track: 1};
  function esc(s) { var d = document.createElement("div"); d.textContent = s == null ? "" : String(s); return d.innerHTML; }
  fetch(el.dataset.layersUrl, {credentials: "same-origin"}).then(function (r) {
    if (!r.ok) throw new Error("HTTP " + r.status);
    return r.json();
  }).then(function (data) {
    var villages = L.geoJSON(data.villages, {
      style: function (f) { return {color: f.properties.zone ? "#b22222" : "#556", weight: 1.5, fillOpacity: f.properties.zone ? 0.12 : 0.05}; },
      onEachFeature: function (f, layer) {
        layer.bindTooltip(esc(f.properties.name), {permanent: false});
        layer.bindPopup("<b>" + esc(f.properties.name) + "</b><br>" + esc(f.properties.kind) + " · " + esc(f.properties.code) +
                        (f.properties.zone ? "<br>防区：" + esc(f.properties.zone) : ""));
      }
    });
    var zones = L.geoJSON(data.zones, {style: {color: "#b22222", weight: 3, dashArray: "6 4", fill: false}});
    var roads = L.geoJSON(data.roads, {style: function (f) { return {color: "#7a6a53", weight: roadWeight[f.properties.road_class] || 1}; },
      onEachFeature: function (f, layer) { if (f.properties.name) layer.bindTooltip(esc(f.properties.name)); }});
    var pois = L.geoJSON(data.pois, {
      pointToLayer: function (f, latlng) { return L.circleMarker(latlng, {radius: 7, color: "#fff", weight: 2, fillColor: poiColours[f.properties.kind] || "#333", fillOpacity: 1}); },
      onEachFeature: function (f, layer) { layer.bindPopup("<b>" + esc(f.properties.name) + "</b><br>" + esc(f.properties.kind_label) +
        (f.properties.contact ? "<br>联系人：" + esc(f.properties.contact) + " " + esc(f.properties.phone) : "")); }
    });
    var gates = L.geoJSON(data.gates, {pointToLayer: function (f, latlng) { return L.marker(latlng, {title: f.properties.name}); },
      onEachFeature: function (f, layer) { layer.bindPopup("<b>" + esc(f.properties.name) + "</b><br>" + esc(f.properties.kind)); }});
    villages.addTo(map); zones.addTo(map); roads.addTo(map); pois.addTo(map); gates.addTo(map);
    L.control.layers(null, {"村/社区": villages, "防区": zones, "道路": roads, "点位": pois, "卡口": gates}, {collapsed: false}).addTo(map);
    var legend = L.control({position: "bottomleft"});
    legend.onAdd = function () {
      var div = L.DomUtil.create("div", "legend");
      var labels = {party_station: "党群驿站", material_store: "物资储备点", assessment_lot: "研判停车场", isolation_site: "集中隔离点", sampling_site: "采样点"};
      div.innerHTML = Object.keys(labels).map(function (k) { return '<span style="color:' + poiColours[k] + '">●</span> ' + labels[k]; }).join("<br>") +
        '<br><span style="color:#2a81cb">📍</span> 卡口' +
        '<br><span style="display:inline-block;width:1em;height:.7em;background:rgba(178,34,34,.25);border:1px solid #b22222"></span> 防区内的村/社区' +
        '<br><span style="display:inline-block;width:1em;border-top:3px dashed #b22222;vertical-align:middle"></span> 防区边界';
      return div;
    };
    legend.addTo(map);
    var bounds = villages.getBounds();
    if (bounds.isValid()) map.fitBounds(bounds); else map.setView([30.30, 120.52], 12);
    if (data.synthetic) document.getElementById("synthetic-note").hidden = false;
    el.dataset.loaded = String(data.villages.features.length);
  }).catch(function (err) {
    el.innerHTML = '<p class="error-box">地图数据加载失败（' + esc(err.message) + '），请刷新重试。</p>';
  });
});
