// Wasap dashboard: live device status and QR code, confirmations, CSV file reading, copy
// buttons, local times. No inline script anywhere (the CSP forbids it); everything hooks
// onto data attributes the server renders.
(function () {
  "use strict";

  // After a form rendered a page directly (a secret shown once), show the page's own URL so
  // that a reload fetches the page instead of sending the form again.
  var canonical = document.body.getAttribute("data-canonical");
  if (canonical && window.history && history.replaceState) {
    history.replaceState(null, "", canonical);
  }

  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      ev.preventDefault();
    }
  });

  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var source = document.getElementById(button.getAttribute("data-copy"));
      if (!source || !navigator.clipboard) return;
      navigator.clipboard.writeText(source.textContent).then(function () {
        button.textContent = "Copied";
      });
    });
  });

  document.querySelectorAll("input[type=file][data-fill]").forEach(function (input) {
    input.addEventListener("change", function () {
      var target = document.getElementById(input.getAttribute("data-fill"));
      var file = input.files && input.files[0];
      if (!target || !file) return;
      var reader = new FileReader();
      reader.onload = function () { target.value = String(reader.result); };
      reader.readAsText(file);
    });
  });

  function localTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (t) {
      var d = new Date(t.getAttribute("datetime"));
      if (!isNaN(d.getTime())) {
        t.textContent = d.toLocaleString();
        t.title = t.getAttribute("datetime");
      }
    });
  }
  localTimes(document);

  function setTime(el, iso) {
    if (!iso) { el.textContent = "—"; return; }
    var t = document.createElement("time");
    t.setAttribute("datetime", iso);
    t.textContent = iso;
    el.replaceChildren(t);
    localTimes(el);
  }

  // The message log refreshes itself while a message in it is still on its way (queued or
  // sent): the same page is fetched and only the log section is swapped in.
  function refreshLog() {
    var log = document.getElementById("message-log");
    if (!log || !log.querySelector("tr[data-status=queued], tr[data-status=sent]")) return;
    setTimeout(function () {
      fetch(window.location.href, { credentials: "same-origin" })
        .then(function (r) { if (!r.ok || r.redirected) throw new Error("gone"); return r.text(); })
        .then(function (text) {
          var fresh = new DOMParser().parseFromString(text, "text/html").getElementById("message-log");
          var current = document.getElementById("message-log");
          if (fresh && current) {
            current.replaceWith(fresh);
            localTimes(fresh);
          }
          refreshLog();
        })
        .catch(function () { /* leave the log as it is; Refresh still works */ });
    }, 2000);
  }
  refreshLog();

  // Live device status: one small JSON document, polled while the page shows a device.
  var watched = document.querySelector("[data-device-status]");
  var linkPanel = document.getElementById("link-panel");
  if (!watched && !linkPanel) return;

  function each(selector, id, fn) {
    document.querySelectorAll(selector).forEach(function (el) {
      if (el.getAttribute(selector.slice(1, -1)) === id) fn(el);
    });
  }

  function apply(device) {
    each("[data-device-status]", device.id, function (el) {
      el.textContent = device.label;
      el.className = "badge s-" + device.status;
    });
    each("[data-device-seen]", device.id, function (el) { setTime(el, device.last_seen_at); });
    if (device.phone) {
      each("[data-device-phone]", device.id, function (el) { el.textContent = "+" + device.phone; });
    }
    if (!linkPanel || linkPanel.getAttribute("data-device-id") !== device.id) return;
    var online = device.status === "online";
    linkPanel.hidden = online;
    var linked = document.getElementById("linked-panel");
    if (linked) linked.hidden = !online;
    var img = document.getElementById("qr");
    var none = document.getElementById("qr-none");
    var stamp = device.qr || "";
    if (stamp && stamp !== linkPanel.getAttribute("data-qr")) {
      img.src = "/dashboard/devices/" + encodeURIComponent(device.id) + "/qr.svg?v=" + encodeURIComponent(stamp);
    }
    linkPanel.setAttribute("data-qr", stamp);
    img.hidden = !stamp;
    none.hidden = !!stamp;
  }

  var failures = 0;
  function poll() {
    fetch("/dashboard/live", { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) {
        if (r.redirected || !r.ok) throw new Error("signed out");
        return r.json();
      })
      .then(function (body) {
        failures = 0;
        (body.devices || []).forEach(apply);
        setTimeout(poll, 1500);
      })
      .catch(function () {
        failures += 1;
        // Signed out or the gateway went away: reload (to the login page) after a few tries.
        if (failures >= 3) { window.location.reload(); return; }
        setTimeout(poll, 3000);
      });
  }
  setTimeout(poll, 1000);
})();
