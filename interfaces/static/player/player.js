/* prizeledger player pages: the draw reveal and the in-browser draw verification.
 *
 * Verification recomputes a draw exactly like domain/fairness.py:
 *   bytes  = HMAC-SHA256(key = server seed, message = "client_seed:nonce:round")  (UTF-8)
 *   chunks = each 32-byte digest split into four 8-byte big-endian integers, round 0, 1, ...
 *   value  = the first chunk below 2^64 - (2^64 mod total), reduced mod total (no modulo bias)
 *   arm    = the first arm whose cumulative weight is greater than value (bisect_right)
 */
(function () {
  "use strict";

  var encoder = new TextEncoder();

  function hex(bytes) {
    return Array.prototype.map.call(new Uint8Array(bytes), function (b) {
      return b.toString(16).padStart(2, "0");
    }).join("");
  }

  async function sha256Hex(text) {
    return hex(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
  }

  async function hmacKey(seed) {
    return crypto.subtle.importKey(
      "raw", encoder.encode(seed), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]
    );
  }

  async function randomBelow(key, clientSeed, nonce, total) {
    var space = 1n << 64n;
    var bigTotal = BigInt(total);
    var limit = space - (space % bigTotal);
    var used = 0;
    for (var round = 0; ; round++) {
      var message = encoder.encode(clientSeed + ":" + nonce + ":" + round);
      var digest = new Uint8Array(await crypto.subtle.sign("HMAC", key, message));
      for (var offset = 0; offset < digest.length; offset += 8) {
        var chunk = 0n;
        for (var i = 0; i < 8; i++) {
          chunk = (chunk << 8n) | BigInt(digest[offset + i]);
        }
        used += 1;
        if (chunk < limit) {
          return { value: chunk % bigTotal, chunks: used };
        }
      }
    }
  }

  function bisectRight(cumulative, value) {
    var lo = 0;
    var hi = cumulative.length;
    while (lo < hi) {
      var mid = (lo + hi) >> 1;
      if (value < cumulative[mid]) { hi = mid; } else { lo = mid + 1; }
    }
    return lo;
  }

  async function recompute(seed, clientSeed, nonce, weights) {
    var cumulative = [];
    var running = 0n;
    weights.forEach(function (pair) {
      running += BigInt(pair[1]);
      cumulative.push(running);
    });
    var key = await hmacKey(seed);
    var drawn = await randomBelow(key, clientSeed, nonce, running);
    return { arm: weights[bisectRight(cumulative, drawn.value)][0], value: drawn.value };
  }

  async function verifyProof(proof) {
    var out = proof.querySelector("[data-browser-verdict]");
    if (!out) { return; }
    if (!(window.crypto && crypto.subtle && typeof BigInt === "function")) {
      out.textContent = out.dataset.unsupported;
      return;
    }
    var seed = proof.dataset.seed;
    var weights = JSON.parse(proof.dataset.weights);
    var committed = (await sha256Hex(seed)) === proof.dataset.commitment;
    var result = await recompute(seed, proof.dataset.clientSeed, proof.dataset.nonce, weights);
    var same = committed && result.arm === proof.dataset.arm &&
      result.value.toString() === proof.dataset.value;
    var template = same ? out.dataset.ok : out.dataset.bad;
    out.textContent = template.replace("{arm}", result.arm);
    out.classList.toggle("ok", same);
    out.classList.toggle("bad", !same);
    out.dataset.result = same ? "match" : "mismatch";
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-recompute]");
    if (!button) { return; }
    var proof = button.closest("[data-proof]");
    button.disabled = true;
    verifyProof(proof).finally(function () { button.disabled = false; });
  });

  function reveal(root) {
    var panels = (root || document).querySelectorAll("[data-reveal]:not([data-revealed])");
    var still = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    panels.forEach(function (panel) {
      panel.setAttribute("data-revealed", "");
      var results = panel.querySelectorAll(".result");
      if (still || results.length === 0) { return; }
      panel.classList.add("revealing");
      var step = Math.min(400, 3000 / results.length);
      results.forEach(function (item, index) {
        window.setTimeout(function () { item.classList.add("shown"); }, 150 + index * step);
      });
      window.setTimeout(function () {
        panel.classList.remove("revealing");
      }, 600 + results.length * step);
    });
  }

  document.addEventListener("DOMContentLoaded", function () { reveal(document); });
  document.addEventListener("htmx:afterSettle", function () { reveal(document); });

  window.prizeledgerFairness = { recompute: recompute, sha256Hex: sha256Hex };
})();
