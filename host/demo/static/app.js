// paymux demo shop. Vanilla JavaScript: the page talks only to the shop's backend (/api/...),
// which holds the paymux API key.
"use strict";

function $(id) { return document.getElementById(id); }

async function api(method, path, body) {
  const opts = { method: method, headers: { "Accept": "application/json" } };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch(path, opts);
  let data = null;
  try { data = await resp.json(); } catch (e) { data = null; }
  if (!resp.ok) {
    const msg = data && data.error ? (data.error.message || data.error.code) : ("HTTP " + resp.status);
    throw new Error(msg);
  }
  return data;
}

function decimals(currency) {
  try {
    return new Intl.NumberFormat("en", { style: "currency", currency: currency }).resolvedOptions().maximumFractionDigits;
  } catch (e) { return 2; }
}

function money(m) {
  if (!m) return "";
  const d = decimals(m.currency);
  const neg = m.value < 0;
  let s = String(Math.abs(m.value)).padStart(d + 1, "0");
  if (d > 0) s = s.slice(0, s.length - d) + "." + s.slice(s.length - d);
  return (neg ? "-" : "") + s + " " + m.currency;
}

function showError(e) { $("error").textContent = e ? String(e.message || e) : ""; }

function setStatus(el, status) {
  el.textContent = status;
  el.className = "status " + status;
}

// ---- checkout page ----
async function checkoutPage() {
  const regionSel = $("region"), currencySel = $("currency");
  let regions = [];
  try { regions = (await api("GET", "/api/regions")).regions; } catch (e) { showError(e); return; }
  for (const r of regions) regionSel.add(new Option(r.code, r.code));
  const fillCurrencies = () => {
    const r = regions.find(x => x.code === regionSel.value);
    currencySel.innerHTML = "";
    for (const c of (r ? r.currencies : [])) currencySel.add(new Option(c, c));
  };
  const loadMethods = async () => {
    showError(null);
    const box = $("methods");
    box.innerHTML = "";
    const q = new URLSearchParams({ region: regionSel.value });
    if (currencySel.value) q.set("currency", currencySel.value);
    let res;
    try { res = await api("GET", "/api/methods?" + q); } catch (e) { showError(e); return; }
    if (!res.methods || res.methods.length === 0) { box.textContent = "No method takes this currency here."; return; }
    for (const m of res.methods) {
      const b = document.createElement("button");
      b.className = "method";
      b.id = "pay-" + m.method;
      b.dataset.method = m.method;
      b.textContent = "Pay with " + m.name;
      const channel = (m.channels || []).includes("h5") ? "h5" : "app";
      b.title = channel === "h5" ? "opens the wallet's cashier in this browser" : "paid in the wallet app (simulated here)";
      b.onclick = () => pay(m.method, channel, b);
      box.appendChild(b);
      if ((m.channels || []).includes("web")) {
        // The desktop cashier (QR code or login), for buyers at a computer.
        const d = document.createElement("button");
        d.className = "method-desktop";
        d.id = "pay-desktop-" + m.method;
        d.dataset.method = m.method;
        d.textContent = "Pay with " + m.name + " on this computer";
        d.title = "opens the wallet's desktop cashier";
        d.onclick = () => pay(m.method, "web", d);
        box.appendChild(d);
      }
    }
  };
  const pay = async (method, channel, button) => {
    showError(null);
    for (const b of document.querySelectorAll("button.method, button.method-desktop")) b.disabled = true;
    try {
      const p = await api("POST", "/api/payments", {
        region: regionSel.value, currency: currencySel.value, amount: $("amount").value.trim(),
        method: method, channel: channel,
      });
      window.location.href = p.next_url;
    } catch (e) {
      showError(e);
      for (const b of document.querySelectorAll("button.method, button.method-desktop")) b.disabled = false;
    }
  };
  regionSel.onchange = () => { fillCurrencies(); loadMethods(); };
  currencySel.onchange = loadMethods;
  const wanted = new URLSearchParams(window.location.search).get("region");
  if (wanted && regions.some(r => r.code === wanted)) regionSel.value = wanted;
  fillCurrencies();
  await loadMethods();
  document.body.dataset.ready = "true";
}

// ---- wallet app stand-in ----
function appPage() {
  const q = new URLSearchParams(window.location.search);
  const id = q.get("payment"), ref = q.get("reference"), method = q.get("method") || "";
  $("payment-id").textContent = id;
  if (method === "alipayhk") $("wallet-title").textContent = "Pay in the AlipayHK app";
  else if (method === "alipay") $("wallet-title").textContent = "Pay in the Alipay app";
  $("pay").onclick = async () => {
    $("pay").disabled = true;
    try {
      await api("POST", "/api/payments/" + encodeURIComponent(id) + "/app-pay", {});
      window.location.href = "/result/" + encodeURIComponent(ref);
    } catch (e) { showError(e); $("pay").disabled = false; }
  };
}

// ---- result page ----
function resultPage() {
  const ref = decodeURIComponent(window.location.pathname.split("/").pop());
  const deadline = Date.now() + 10 * 60 * 1000; // stop polling a forgotten tab
  let payment = null;

  const terminal = s => s === "succeeded" || s === "failed" || s === "closed";
  const refreshPayment = async () => {
    const p = await api("GET", "/api/payments/" + encodeURIComponent(payment ? payment.id : ref));
    payment = p;
    setStatus($("status"), p.status);
    $("payment-id").textContent = p.id;
    $("amount").textContent = money(p.amount);
    $("refunded").textContent = money(p.amount_refunded);
    $("method").textContent = p.method + " (" + p.channel + ")";
    $("region").textContent = p.region;
    $("refund").disabled = !(p.status === "succeeded" && p.amount_refunded.value < p.amount.value);
    return p;
  };
  const refreshRefunds = async () => {
    const res = await api("GET", "/api/payments/" + encodeURIComponent(payment.id) + "/refunds");
    const body = $("refunds");
    body.innerHTML = "";
    let open = false;
    for (const r of res.data || []) {
      const tr = document.createElement("tr");
      tr.dataset.refund = r.id;
      tr.innerHTML = "<td></td><td></td><td><span class='status'></span></td>";
      tr.children[0].textContent = r.id;
      tr.children[1].textContent = money(r.amount);
      setStatus(tr.querySelector(".status"), r.status);
      body.appendChild(tr);
      if (r.status === "pending" || r.status === "processing") open = true;
    }
    return open;
  };
  const refreshEvents = async () => {
    const res = await api("GET", "/api/events?payment=" + encodeURIComponent(payment.id));
    const body = $("events");
    body.innerHTML = "";
    for (const e of res.events) {
      const tr = document.createElement("tr");
      tr.dataset.event = e.type;
      tr.innerHTML = "<td></td><td></td><td></td><td></td>";
      tr.children[0].textContent = new Date(e.received_at).toLocaleTimeString();
      tr.children[1].textContent = e.type;
      tr.children[2].textContent = e.status || "";
      tr.children[3].textContent = e.verified ? "signature verified" : ("NOT verified: " + (e.verify_error || ""));
      tr.children[3].className = e.verified ? "ok" : "bad";
      body.appendChild(tr);
    }
  };
  const loop = async () => {
    try {
      showError(null);
      const p = await refreshPayment();
      const open = await refreshRefunds();
      await refreshEvents();
      document.body.dataset.status = p.status;
      if (!terminal(p.status) || open) document.body.dataset.settled = "false";
      else document.body.dataset.settled = "true";
    } catch (e) { showError(e); }
    if (Date.now() < deadline) setTimeout(loop, 700);
  };
  $("refund").onclick = async () => {
    $("refund").disabled = true;
    try {
      await api("POST", "/api/payments/" + encodeURIComponent(payment.id) + "/refunds", { amount: $("refund-amount").value.trim() });
      $("refund-amount").value = "";
    } catch (e) { showError(e); }
  };
  loop();
}
