/// `GET /dashboard`: one self-contained page (HTML, CSS and JS inline; nothing from elsewhere).
/// It holds no data. It takes the admin key from the URL fragment (`#key=…`, which browsers never
/// send) or a password field, keeps it in sessionStorage, and polls `/admin/dashboard.json`
/// every 5 s with `Authorization: Bearer`. Charts are inline SVG.
///
/// Hooks for tests: `body[data-ready="1"]` after the first successful render, `body[data-state]`
/// (`ok`, `empty`, `unauthorized`, `error`), `[data-series="team:<id>"]`, `[data-budget="<budget>"]`
/// with `[data-line=spent|limit|projection]` and, over a soft limit, `[data-badge="over-soft-limit"]`,
/// `[data-metric=…][data-value=…]` carrying the JSON values as sent, `[data-refused=<reason>]`,
/// and `#top-requests tbody tr[data-request]`.
enum DashboardPage {
    static let contentSecurityPolicy =
        "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
        + "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

    static var response: GatewayResponse {
        GatewayResponse(
            status: .ok,
            headers: [
                ("content-type", "text/html; charset=utf-8"), ("cache-control", "no-store"),
                ("content-security-policy", contentSecurityPolicy), ("x-content-type-options", "nosniff"),
                ("referrer-policy", "no-referrer"),
            ],
            body: Array(html.utf8))
    }

    static let html = #"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="referrer" content="no-referrer">
        <title>Flashgate spend</title>
        <style>
        :root { --fg: #1d2330; --muted: #667085; --line: #e4e7ec; --bg: #f6f7f9; --card: #fff; --bad: #d92d20; --good: #079455; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
        header { display: flex; align-items: center; gap: 16px; padding: 12px 20px; background: #101828; color: #fff; flex-wrap: wrap; }
        header h1 { font-size: 17px; margin: 0; font-weight: 600; }
        header .spacer { flex: 1; }
        header select, header button, #auth input, #auth button { font: inherit; padding: 4px 8px; border-radius: 6px; border: 1px solid #98a2b3; }
        #status { font-size: 12px; color: #d0d5dd; }
        main { padding: 16px 20px; display: grid; gap: 16px; grid-template-columns: repeat(12, 1fr); }
        section { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 14px 16px; min-width: 0; }
        section h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); margin: 0 0 10px; font-weight: 600; }
        .w12 { grid-column: span 12; } .w6 { grid-column: span 6; } .w4 { grid-column: span 4; } .w8 { grid-column: span 8; }
        @media (max-width: 900px) { .w6, .w4, .w8 { grid-column: span 12; } }
        .metrics { display: flex; gap: 28px; flex-wrap: wrap; }
        .metric .v { font-size: 24px; font-weight: 600; font-variant-numeric: tabular-nums; }
        .metric .l { font-size: 12px; color: var(--muted); }
        .legend { display: flex; gap: 14px; flex-wrap: wrap; font-size: 12px; margin-top: 6px; }
        .legend i { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 5px; vertical-align: -1px; }
        .budgets { display: grid; grid-template-columns: repeat(auto-fill, minmax(330px, 1fr)); gap: 14px; }
        .budget { border: 1px solid var(--line); border-radius: 8px; padding: 8px 10px; }
        .budget .name { font-weight: 600; }
        .budget .sub { font-size: 12px; color: var(--muted); font-variant-numeric: tabular-nums; }
        .over { color: var(--bad); font-weight: 600; }
        .refusals { font-size: 12px; color: var(--muted); margin: 4px 0 8px; }
        .badge { background: #fef0c7; color: #b54708; border-radius: 10px; padding: 1px 8px; font-size: 12px; font-weight: 600; margin-left: 6px; }
        table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
        th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; }
        th { font-size: 12px; color: var(--muted); font-weight: 600; }
        td.num, th.num { text-align: right; }
        svg text { font: 11px system-ui, sans-serif; fill: var(--muted); }
        svg .axis { stroke: var(--line); }
        .empty { color: var(--muted); padding: 16px 0; }
        #auth { display: none; padding: 40px 20px; max-width: 460px; margin: 0 auto; }
        #auth.shown { display: block; }
        #auth p { color: var(--bad); font-weight: 600; }
        #auth input { width: 100%; margin: 8px 0; padding: 8px; }
        </style>
        </head>
        <body data-ready="0" data-state="loading">
        <header>
          <h1>Flashgate spend</h1>
          <span id="status">connecting…</span>
          <span class="spacer"></span>
          <label>window
            <select id="hours">
              <option value="1">1 h</option><option value="6">6 h</option><option value="24" selected>24 h</option>
              <option value="168">7 d</option><option value="744">31 d</option>
            </select>
          </label>
          <button id="forget" type="button">forget key</button>
        </header>
        <div id="auth">
          <p id="auth-message">admin key needed</p>
          <form id="auth-form">
            <label for="key-input">Admin key (kept in this tab's sessionStorage only)</label>
            <input id="key-input" type="password" autocomplete="off" spellcheck="false">
            <button type="submit">Open dashboard</button>
          </form>
        </div>
        <main id="main">
          <section class="w12"><h2>Window</h2><div class="metrics" id="summary"></div></section>
          <section class="w12"><h2>Spend over time, by team</h2><div id="spend"></div></section>
          <section class="w12"><h2>Budgets</h2><div id="budgets" class="budgets"></div></section>
          <section class="w4"><h2>Cache</h2><div id="cache"></div></section>
          <section class="w4"><h2>Models</h2><div id="models"></div></section>
          <section class="w4"><h2>Routes</h2><div id="routes"></div></section>
          <section class="w4"><h2>Service tiers</h2><div id="tiers"></div></section>
          <section class="w12"><h2>Errors and retries</h2><div id="errors"></div></section>
          <section class="w12"><h2>Most expensive recent requests</h2><div id="top"></div></section>
        </main>
        <script>
        "use strict";
        (function () {
          const KEY_STORE = "flashgate-admin-key";
          const POLL_MS = 5000;
          const SVG = "http://www.w3.org/2000/svg";
          const COLORS = ["#2e90fa", "#f79009", "#12b76a", "#9e77ed", "#f04438", "#0ba5ec", "#ee46bc", "#667085", "#84cc16", "#dc6803"];
          const body = document.body;
          let timer = null;

          // The key: from the fragment (never sent to the server), then removed from the address bar.
          const fragment = new URLSearchParams(location.hash.slice(1));
          if (fragment.get("key")) {
            sessionStorage.setItem(KEY_STORE, fragment.get("key"));
            history.replaceState(null, "", location.pathname + location.search);
          }
          const key = () => sessionStorage.getItem(KEY_STORE);

          function el(tag, attrs, ...children) {
            const svg = ["svg", "g", "rect", "line", "polyline", "path", "text", "title", "circle"].includes(tag);
            const node = svg ? document.createElementNS(SVG, tag) : document.createElement(tag);
            for (const [name, value] of Object.entries(attrs || {})) {
              if (value !== null && value !== undefined) node.setAttribute(name, String(value));
            }
            for (const child of children.flat()) {
              if (child === null || child === undefined || child === false) continue;
              node.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
            }
            return node;
          }
          const usd = (s) => {
            const n = Number(s);
            return "$" + (Math.abs(n) >= 100 ? n.toFixed(2) : Math.abs(n) >= 1 ? n.toFixed(4) : n.toFixed(6));
          };
          const pct = (r) => (Number(r) * 100).toFixed(1) + "%";
          const metric = (name, value, text, label) =>
            el("div", { class: "metric" }, el("div", { class: "v", "data-metric": name, "data-value": value }, text), el("div", { class: "l" }, label));
          const clear = (id) => { const node = document.getElementById(id); node.replaceChildren(); return node; };
          const hhmm = (ms, long) => {
            const d = new Date(ms);
            const t = d.toISOString();
            return long ? t.slice(5, 10) + " " + t.slice(11, 16) : t.slice(11, 16);
          };

          function showAuth(message) {
            document.getElementById("auth-message").textContent = message;
            document.getElementById("auth").classList.add("shown");
            document.getElementById("main").style.display = "none";
          }
          function hideAuth() {
            document.getElementById("auth").classList.remove("shown");
            document.getElementById("main").style.display = "";
          }

          async function poll() {
            clearTimeout(timer);
            if (!key()) {
              body.dataset.state = "unauthorized";
              showAuth("admin key needed");
              return;
            }
            const hours = document.getElementById("hours").value;
            try {
              const response = await fetch("/admin/dashboard.json?hours=" + encodeURIComponent(hours), {
                headers: { Authorization: "Bearer " + key() }, cache: "no-store", credentials: "omit",
              });
              if (response.status === 401) {
                body.dataset.state = "unauthorized";
                document.getElementById("status").textContent = "admin key needed";
                showAuth("admin key needed");
                return;
              }
              if (!response.ok) {
                let message = "HTTP " + response.status;
                try { message += ": " + (await response.json()).error.message; } catch (e) { /* not JSON */ }
                throw new Error(message);
              }
              const data = await response.json();
              hideAuth();
              render(data);
              body.dataset.state = data.totals.requests + data.totals.refused > 0 ? "ok" : "empty";
              body.dataset.ready = "1";
              document.getElementById("status").textContent = "updated " + new Date(data.generated_at_ms).toLocaleTimeString() + " · every 5 s";
            } catch (error) {
              body.dataset.state = "error";
              document.getElementById("status").textContent = "error: " + error.message;
            }
            timer = setTimeout(poll, POLL_MS);
          }

          function render(d) {
            renderSummary(d);
            renderSpend(d.spend_series, d.window);
            renderBudgets(d.budgets, d.generated_at_ms, d.window);
            renderCache(d.cache);
            renderMix("models", d.models, "model");
            renderMix("routes", d.routes, "route");
            renderMix("tiers", d.tiers, "tier");
            renderErrors(d.errors);
            renderTop(d.top_requests);
          }

          function renderSummary(d) {
            clear("summary").append(
              metric("total_cost_usd", d.totals.cost_usd, usd(d.totals.cost_usd), "spend, last " + d.window.hours + " h"),
              metric("requests", d.totals.requests, d.totals.requests, "requests"),
              metric("summary_refused", d.totals.refused, d.totals.refused, "refused"),
              metric("summary_hit_ratio", d.cache.hit_ratio, pct(d.cache.hit_ratio), "cache hit ratio"),
              metric("summary_saved_usd", d.cache.saved_usd, usd(d.cache.saved_usd), "saved by the cache"),
              metric("summary_error_rate", d.errors.error_rate, pct(d.errors.error_rate), "errors"),
              metric("summary_retry_rate", d.errors.retry_rate, pct(d.errors.retry_rate), "retried"));
          }

          function renderSpend(series, win) {
            const root = clear("spend");
            if (!series.teams.length) { root.append(el("div", { class: "empty", "data-empty": "spend" }, "No requests in this window.")); return; }
            const W = 1100, H = 240, L = 64, R = 10, T = 10, B = 24;
            const n = series.buckets.length, bw = (W - L - R) / n;
            const totals = series.buckets.map((_, i) => series.teams.reduce((s, t) => s + Number(t.bucket_cost_usd[i]), 0));
            const max = Math.max(...totals) || 1;
            const y = (v) => T + (H - T - B) * (1 - v / max);
            const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, width: "100%", role: "img", "aria-label": "spend over time by team", "data-chart": "spend" });
            for (const f of [0, 0.5, 1]) {
              svg.append(el("line", { class: "axis", x1: L, x2: W - R, y1: y(max * f), y2: y(max * f) }),
                el("text", { x: L - 6, y: y(max * f) + 4, "text-anchor": "end" }, usd(max * f)));
            }
            const step = Math.max(1, Math.ceil(n / 8));
            for (let i = 0; i < n; i += step) {
              svg.append(el("text", { x: L + i * bw, y: H - 6 }, hhmm(series.buckets[i], win.hours > 24)));
            }
            const base = new Array(n).fill(0);
            series.teams.forEach((team, ti) => {
              const g = el("g", { "data-series": "team:" + team.team, "data-total-usd": team.cost_usd, "data-requests": team.requests, fill: COLORS[ti % COLORS.length] });
              team.bucket_cost_usd.forEach((c, i) => {
                const v = Number(c);
                if (v <= 0 && team.bucket_requests[i] === 0) return;
                const y0 = y(base[i]), y1 = y(base[i] + v);
                base[i] += v;
                g.append(el("rect", { x: (L + i * bw + 0.5).toFixed(1), y: y1.toFixed(1), width: Math.max(1, bw - 1).toFixed(1), height: Math.max(v > 0 ? 1 : 0, y0 - y1).toFixed(1), "data-bucket": series.buckets[i], "data-cost-usd": c },
                  el("title", {}, `${team.team} ${hhmm(series.buckets[i], true)}: ${usd(c)}, ${team.bucket_requests[i]} requests`)));
              });
              svg.append(g);
            });
            root.append(svg, el("div", { class: "legend" }, series.teams.map((t, i) =>
              el("span", { "data-legend": "team:" + t.team }, el("i", { style: `background:${COLORS[i % COLORS.length]}` }), `${t.team} ${usd(t.cost_usd)} · ${t.requests} req`))));
          }

          function renderBudgets(budgets, now, win) {
            const root = clear("budgets");
            if (!budgets.length) { root.append(el("div", { class: "empty", "data-empty": "budgets" }, "No budgets configured.")); return; }
            for (const b of budgets) {
              const W = 320, H = 140, L = 56, R = 8, T = 8, B = 20;
              const x0 = b.period_start_ms ?? win.start_ms, x1 = b.period_end_ms ?? now;
              const limit = Number(b.limit_usd), spent = Number(b.spent_usd), projected = b.projected_usd === null ? null : Number(b.projected_usd);
              const max = Math.max(limit, spent, projected ?? 0) * 1.1 || 1;
              const x = (t) => L + (W - L - R) * Math.min(1, Math.max(0, (t - x0) / Math.max(1, x1 - x0)));
              const y = (v) => T + (H - T - B) * (1 - v / max);
              const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, width: "100%", role: "img", "aria-label": "burn-down of " + b.budget });
              svg.append(el("line", { class: "axis", x1: L, x2: W - R, y1: y(0), y2: y(0) }),
                el("text", { x: L - 4, y: y(0) + 4, "text-anchor": "end" }, "$0"),
                el("text", { x: L - 4, y: y(limit) + 4, "text-anchor": "end" }, usd(limit)),
                el("text", { x: L, y: H - 4 }, hhmm(x0, b.period !== "day")),
                el("text", { x: W - R, y: H - 4, "text-anchor": "end" }, b.period_end_ms ? hhmm(x1, b.period !== "day") : "now"),
                el("line", { "data-line": "limit", x1: L, x2: W - R, y1: y(limit), y2: y(limit), stroke: "#d92d20", "stroke-width": 1.5 }));
              const pts = b.burn.map((p) => `${x(p.t_ms).toFixed(1)},${y(Number(p.spent_usd)).toFixed(1)}`).join(" ");
              svg.append(el("polyline", { "data-line": "spent", points: pts, fill: "none", stroke: "#2e90fa", "stroke-width": 2 }));
              if (projected !== null && b.period_end_ms) {
                svg.append(el("line", { "data-line": "projection", x1: x(now), y1: y(spent), x2: x(b.period_end_ms), y2: y(projected), stroke: b.projected_over ? "#d92d20" : "#667085", "stroke-width": 1.5, "stroke-dasharray": "5 4" }));
              }
              const over = b.projected_over ? el("span", { class: "over" }, " · projected over limit") : null;
              const badge = b.over_limit && b.mode === "soft" ? el("span", { class: "badge", "data-badge": "over-soft-limit" }, "over soft limit") : null;
              root.append(el("div", { class: "budget", "data-budget": b.budget, "data-mode": b.mode },
                el("div", { class: "name" }, b.owner + " · " + b.period + " · " + b.mode, badge),
                el("div", { class: "sub" },
                  el("span", { "data-metric": "spent_usd", "data-value": b.spent_usd }, usd(b.spent_usd)), " of ",
                  el("span", { "data-metric": "limit_usd", "data-value": b.limit_usd }, usd(b.limit_usd)), " · left ",
                  el("span", { "data-metric": "remaining_usd", "data-value": b.remaining_usd }, usd(b.remaining_usd))),
                el("div", { class: "sub" }, "projected at period end ",
                  el("span", { "data-metric": "projected_usd", "data-value": b.projected_usd ?? "" }, projected === null ? "n/a" : usd(b.projected_usd)), over),
                svg));
            }
          }

          function renderCache(c) {
            const root = clear("cache");
            const W = 300, H = 22, r = Number(c.hit_ratio);
            root.append(el("div", { class: "metrics" },
                metric("hit_ratio", c.hit_ratio, pct(c.hit_ratio), "hit ratio (hits ÷ hits+misses+joined)"),
                metric("saved_usd", c.saved_usd, usd(c.saved_usd), "saved by hits (priced from tokens)")),
              el("svg", { viewBox: `0 0 ${W} ${H}`, width: "100%", "data-chart": "cache" },
                el("rect", { x: 0, y: 4, width: W, height: 14, rx: 3, fill: "#e4e7ec" }),
                el("rect", { x: 0, y: 4, width: (W * r).toFixed(1), height: 14, rx: 3, fill: "#12b76a", "data-bar": "hit_ratio" })),
              el("div", { class: "sub" },
                el("span", { "data-metric": "hits", "data-value": c.hits }, c.hits), " hits · ",
                el("span", { "data-metric": "misses", "data-value": c.misses }, c.misses), " misses · ",
                el("span", { "data-metric": "joined", "data-value": c.joined }, c.joined), " joined · ",
                el("span", { "data-metric": "bypass", "data-value": c.bypass }, c.bypass), " bypass"));
          }

          function bars(items, label, hook) {
            const W = 380, row = 22, L = 130;
            const max = Math.max(...items.map((m) => Number(m.cost_usd)), 0) || 1;
            const svg = el("svg", { viewBox: `0 0 ${W} ${Math.max(row, items.length * row)}`, width: W, style: "max-width:100%;height:auto" });
            items.forEach((m, i) => {
              const w = Math.max(1, (W - L - 110) * Number(m.cost_usd) / max);
              svg.append(el("g", { [hook]: m[label], "data-requests": m.requests, "data-cost-usd": m.cost_usd },
                el("text", { x: 0, y: i * row + 15 }, String(m[label]).slice(0, 20)),
                el("rect", { x: L, y: i * row + 4, width: w.toFixed(1), height: 14, rx: 2, fill: COLORS[i % COLORS.length] }),
                el("text", { x: L + w + 6, y: i * row + 15 }, `${usd(m.cost_usd)} · ${m.requests}`)));
            });
            return svg;
          }

          function renderMix(id, items, label) {
            const root = clear(id);
            if (!items.length) { root.append(el("div", { class: "empty" }, "No requests.")); return; }
            root.append(bars(items, label, "data-" + label));
          }

          function renderErrors(e) {
            const root = clear("errors");
            const outcomes = Object.entries(e.by_outcome).map(([outcome, n]) => ({ outcome, requests: n, cost_usd: String(n) }));
            root.append(el("div", { class: "metrics" },
              metric("error_rate", e.error_rate, pct(e.error_rate), `not ok (${e.failed} of ${e.requests}, ${e.refused} refused)`),
              metric("refused", e.refused, e.refused, "refused by Flashgate"),
              metric("retry_rate", e.retry_rate, pct(e.retry_rate), `more than one attempt (${e.retried})`)));
            const reasons = Object.entries(e.refused_by);
            if (reasons.length) {
              root.append(el("div", { class: "refusals", "data-refusals": "" }, "refused by reason: ",
                reasons.map(([reason, n], i) => el("span", { "data-refused": reason, "data-value": n }, (i ? " · " : "") + reason + " " + n))));
            }
            if (outcomes.length) {
              const W = 700, row = 22, L = 130, max = Math.max(...outcomes.map((o) => o.requests));
              const svg = el("svg", { viewBox: `0 0 ${W} ${outcomes.length * row}`, width: W, style: "max-width:100%;height:auto", "data-chart": "outcomes" });
              outcomes.forEach((o, i) => {
                const w = Math.max(1, (W - L - 80) * o.requests / max);
                svg.append(el("g", { "data-outcome": o.outcome, "data-requests": o.requests },
                  el("text", { x: 0, y: i * row + 15 }, o.outcome),
                  el("rect", { x: L, y: i * row + 4, width: w.toFixed(1), height: 14, rx: 2, fill: o.outcome === "ok" ? "#12b76a" : o.outcome === "refused" ? "#f79009" : "#f04438" }),
                  el("text", { x: L + w + 6, y: i * row + 15 }, String(o.requests))));
              });
              root.append(svg);
            }
          }

          function renderTop(rows) {
            const root = clear("top");
            if (!rows.length) { root.append(el("div", { class: "empty", "data-empty": "top" }, "No requests in this window.")); return; }
            const cols = [["time", "time"], ["team", "team"], ["key", "key"], ["model", "model"], ["route", "route"], ["tokens", "tokens", true], ["cost", "cost_usd", true], ["tier", "service_tier"], ["cache", "cache"], ["outcome", "outcome"]];
            root.append(el("table", { id: "top-requests" },
              el("thead", {}, el("tr", {}, cols.map(([h, , num]) => el("th", { class: num ? "num" : null }, h)))),
              el("tbody", {}, rows.map((r) => el("tr", { "data-request": r.time_ms, "data-cost-usd": r.cost_usd },
                cols.map(([, f, num]) => el("td", { class: num ? "num" : null, "data-field": f },
                  f === "time" ? r.time.replace("T", " ").slice(0, 19) : f === "cost_usd" ? usd(r[f]) : f === "key" || f === "service_tier" ? (r[f] || "—") : r[f])))))));
          }

          document.getElementById("hours").addEventListener("change", poll);
          document.getElementById("forget").addEventListener("click", () => { sessionStorage.removeItem(KEY_STORE); poll(); });
          document.getElementById("auth-form").addEventListener("submit", (event) => {
            event.preventDefault();
            const value = document.getElementById("key-input").value.trim();
            if (value) { sessionStorage.setItem(KEY_STORE, value); document.getElementById("key-input").value = ""; poll(); }
          });
          poll();
        })();
        </script>
        </body>
        </html>
        """#
}
