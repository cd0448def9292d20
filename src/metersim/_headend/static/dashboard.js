// The head end's dashboard: logs in, then polls the REST API every second and redraws the
// cabinets (rooms' relay, power, energy, balance, when the cabinet read them), the alarms and the top-up form's room list.
// Text from the server is always put in with textContent, never as HTML.
"use strict";
let token = sessionStorage.getItem("token");
const $ = (id) => document.getElementById(id);

async function api(method, path, body) {
  const r = await fetch(path, {method, headers: Object.assign(
      {"Content-Type": "application/json"}, token ? {Authorization: "Bearer " + token} : {}),
      body: body === undefined ? undefined : JSON.stringify(body)});
  if (r.status === 401) { token = null; sessionStorage.removeItem("token"); show(); }
  const data = await r.json();
  if (!r.ok) throw new Error(typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail));
  return data;
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

const money = (c) => (c / 100).toFixed(2);

function drawCabinets(cabs) {
  const box = $("cabinets");
  box.replaceChildren();
  const select = $("topup-room"), chosen = select.value;
  select.replaceChildren();
  for (const c of cabs) {
    const h = el("h2", c.name + " ");
    h.append(el("span", c.online ? "online" : "offline", c.online ? "online" : "offline"));
    box.append(h);
    const t = el("table");
    const head = el("tr");
    for (const k of ["room", "relay", "power W", "energy kWh", "cost", "balance", "trips", "read at", ""]) head.append(el("th", k));
    t.append(head);
    for (const r of c.rooms) {
      const tr = el("tr");
      tr.id = "room-" + r.id;
      tr.addEventListener("click", () => { curveRoom = r.id; $("curve-room").textContent = r.label; drawCurve(); });
      tr.append(el("td", r.label), el("td", r.relay_closed ? "closed" : "open", r.relay_closed ? "closed" : "open"),
                el("td", r.power_W.toFixed(1), "power"), el("td", (r.energy_Wh / 1000).toFixed(3), "energy"),
                el("td", money(r.cost_cents)), el("td", money(r.balance_cents), "balance" + (r.balance_cents < 0 ? " neg" : "")),
                el("td", String(r.trips)),
                // the cabinet's clock of the reading (UTC), or its arrival if it came untimed
                el("td", (r.measured_at || r.updated_at || "").slice(11, 19), "read-at"),
                relayButton(r));
      t.append(tr);
      const o = el("option", c.name + " / " + r.label);
      o.value = r.id;
      select.append(o);
    }
    box.append(t);
  }
  if (chosen) select.value = chosen;
}

// remote relay control: the button asks for the opposite of the relay's reported state
function relayButton(r) {
  const td = el("td"), b = el("button", r.relay_closed ? "open" : "close", "relay-btn");
  b.addEventListener("click", async (ev) => {
    ev.stopPropagation();                  // not a click on the row (that shows the curve)
    const command = r.relay_closed ? "open" : "close";
    const what = "relay " + command + " " + r.label;
    try {
      const c = await api("POST", "/api/rooms/" + r.id + "/relay", {command});
      $("relay-result").textContent = what + ": " + c.state;
      const check = setInterval(async () => {
        const s = await api("GET", "/api/commands/" + c.id);
        $("relay-result").textContent = what + ": " + s.state;
        if (s.state !== "pending" && s.state !== "sent") clearInterval(check);
      }, 500);
    } catch (e) { $("relay-result").textContent = what + " refused: " + e.message; }
  });
  td.append(b);
  return td;
}

function drawAlarms(events) {
  const ul = $("alarms");
  ul.replaceChildren();
  for (const e of events) ul.append(el("li", e.at.slice(0, 19).replace("T", " ") + "  " + e.kind + ": " + e.detail));
}

let curveRoom = null, polls = 0;
async function drawCurve() {
  // an <img> cannot send the bearer token: fetch the PNG and show it from a blob URL
  if (curveRoom === null) return;
  const r = await fetch("/api/rooms/" + curveRoom + "/curve.png", {headers: {Authorization: "Bearer " + token}});
  if (!r.ok) return;
  const old = $("curve").src;
  $("curve").src = URL.createObjectURL(await r.blob());
  if (old.startsWith("blob:")) URL.revokeObjectURL(old);
}

async function poll() {
  if (!token) return;
  try {
    drawCabinets(await api("GET", "/api/cabinets"));
    drawAlarms(await api("GET", "/api/events?limit=15"));
    $("updated").textContent = "updated " + new Date().toLocaleTimeString();
    if (++polls % 5 === 0) drawCurve();
  } catch (e) { $("updated").textContent = "error: " + e.message; }
}

function show() {
  $("login-box").hidden = !!token;
  $("main").hidden = !token;
  $("who").textContent = token ? sessionStorage.getItem("who") : "";
}

$("login").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try {
    const r = await api("POST", "/api/login", {name: $("login-name").value, password: $("login-password").value});
    token = r.token;
    sessionStorage.setItem("token", token);
    sessionStorage.setItem("who", r.name + " (" + r.role + ")");
    $("login-error").textContent = "";
    show();
    poll();
  } catch (e) { $("login-error").textContent = e.message; }
});

$("topup").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const cents = Math.round(parseFloat($("topup-amount").value) * 100);
  const request_id = "web-" + Date.now() + "-" + Math.floor(Math.random() * 1e6);
  try {
    const t = await api("POST", "/api/topups", {request_id, room_id: parseInt($("topup-room").value), cents});
    $("topup-result").textContent = "top-up " + t.id + ": " + money(t.cents) + " " + t.state;
    const check = setInterval(async () => {
      const s = await api("GET", "/api/topups/" + t.id);
      $("topup-result").textContent = "top-up " + t.id + ": " + money(s.cents) + " " + s.state;
      if (s.state !== "pending" && s.state !== "sent") clearInterval(check);
    }, 500);
  } catch (e) { $("topup-result").textContent = "refused: " + e.message; }
});

show();
poll();
setInterval(poll, 1000);
