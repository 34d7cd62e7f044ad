/* fcgi/status.c: the admin endpoints: GET /v1/metrics (JSON), GET /metrics
 * (Prometheus text) and GET /status (one self-contained HTML page whose
 * inline script polls /v1/metrics and draws SVG charts), each limited to
 * ADMIN_API_KEY and/or loopback clients when configured. */
#include "config.h"

#include <string.h>

#include "common/alloc.h"
#include "common/log.h"
#include "fcgi/handler_int.h"
#include "fcgi/metrics.h"

#include "common/banned.h"

#define METRICS_MAX (4 * 1024 * 1024)

static const char no_store[] = "Cache-Control: no-store\r\n";

/* clang-format off */
static const char status_html[] =
    "<!DOCTYPE html>\n"
    "<html lang=\"en\">\n"
    "<head>\n"
    "<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<title>CCProxy status</title>\n"
    "<link rel=\"icon\" href=\"data:,\">\n"
    "<style>\n"
    "body{font:14px/1.4 system-ui,-apple-system,\"Segoe UI\",sans-serif;margin:0;background:#f4f5f7;color:#1d2330}\n"
    "header{background:#1d2330;color:#fff;padding:10px 18px;display:flex;gap:18px;align-items:baseline;flex-wrap:wrap}\n"
    "header h1{font-size:18px;margin:0}\n"
    "header span{color:#b8c0d0;font-size:12px}\n"
    "main{padding:14px 18px;max-width:1200px}\n"
    ".tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:10px}\n"
    ".tile{background:#fff;border-radius:6px;padding:10px 12px;box-shadow:0 1px 2px rgba(0,0,0,.08)}\n"
    ".tile b{display:block;font-size:20px;font-variant-numeric:tabular-nums}\n"
    ".tile small{color:#5b6477}\n"
    ".charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:10px;margin-top:14px}\n"
    ".chart{background:#fff;border-radius:6px;padding:8px 12px;box-shadow:0 1px 2px rgba(0,0,0,.08)}\n"
    ".chart h2{font-size:13px;margin:0 0 4px;font-weight:600}\n"
    ".chart svg{display:block;width:100%;height:90px}\n"
    ".key{font-size:11px;color:#5b6477}\n"
    ".key i{display:inline-block;width:10px;height:3px;margin:0 4px 2px 8px;vertical-align:middle}\n"
    "table{border-collapse:collapse;background:#fff;margin-top:14px;width:100%;box-shadow:0 1px 2px rgba(0,0,0,.08);border-radius:6px}\n"
    "th,td{text-align:right;padding:4px 10px;font-variant-numeric:tabular-nums;border-bottom:1px solid #eceef2}\n"
    "th:first-child,td:first-child{text-align:left;font-family:ui-monospace,monospace}\n"
    "#err{color:#b00020;font-weight:600}\n"
    "</style>\n"
    "</head>\n"
    "<body>\n"
    "<header><h1>CCProxy status</h1><span id=\"host\">loading...</span><span id=\"updated\"></span><span id=\"err\"></span></header>\n"
    "<main>\n"
    "<div class=\"tiles\">\n"
    "<div class=\"tile\"><small>requests</small><b id=\"requests_total\">-</b></div>\n"
    "<div class=\"tile\"><small>requests / min (last 5 min)</small><b id=\"rate\">-</b></div>\n"
    "<div class=\"tile\"><small>latency p50 / p95</small><b id=\"latency\">-</b></div>\n"
    "<div class=\"tile\"><small>error rate</small><b id=\"error_rate\">-</b></div>\n"
    "<div class=\"tile\"><small>response cache hit rate</small><b id=\"rc_hit\">-</b></div>\n"
    "<div class=\"tile\"><small>token count cache hit rate</small><b id=\"tc_hit\">-</b></div>\n"
    "<div class=\"tile\"><small>tokens in / out</small><b id=\"tokens\">-</b></div>\n"
    "<div class=\"tile\"><small>upstream cost</small><b id=\"cost\">-</b></div>\n"
    "<div class=\"tile\"><small>savings vs Claude</small><b id=\"savings\">-</b></div>\n"
    "<div class=\"tile\"><small>upstream p95 / TTFB p95</small><b id=\"up_latency\">-</b></div>\n"
    "<div class=\"tile\"><small>upstream connections</small><b id=\"conns\">-</b></div>\n"
    "<div class=\"tile\"><small>in flight / workers</small><b id=\"procs\">-</b></div>\n"
    "</div>\n"
    "<div class=\"charts\">\n"
    "<div class=\"chart\"><h2>Requests per minute</h2><div id=\"c_req\"></div><div class=\"key\"><i style=\"background:#2b6cb0\"></i>requests<i style=\"background:#c53030\"></i>errors</div></div>\n"
    "<div class=\"chart\"><h2>Latency (ms)</h2><div id=\"c_lat\"></div><div class=\"key\"><i style=\"background:#2b6cb0\"></i>p50<i style=\"background:#dd6b20\"></i>p95</div></div>\n"
    "<div class=\"chart\"><h2>Tokens per minute</h2><div id=\"c_tok\"></div><div class=\"key\"><i style=\"background:#2b6cb0\"></i>in<i style=\"background:#38a169\"></i>out</div></div>\n"
    "<div class=\"chart\"><h2>Cost and savings per minute (USD)</h2><div id=\"c_cost\"></div><div class=\"key\"><i style=\"background:#c53030\"></i>cost<i style=\"background:#38a169\"></i>savings</div></div>\n"
    "<div class=\"chart\"><h2>Response cache per minute</h2><div id=\"c_cache\"></div><div class=\"key\"><i style=\"background:#38a169\"></i>hits<i style=\"background:#718096\"></i>misses</div></div>\n"
    "<div class=\"chart\"><h2>Error rate per minute</h2><div id=\"c_err\"></div><div class=\"key\"><i style=\"background:#c53030\"></i>errors / requests</div></div>\n"
    "</div>\n"
    "<table><thead><tr><th>upstream model</th><th>requests</th><th>tokens in</th><th>tokens out</th><th>cost</th><th>savings</th></tr></thead><tbody id=\"models\"></tbody></table>\n"
    "<table><thead><tr><th>tenant (key hash)</th><th>requests</th><th>tokens in</th><th>tokens out</th><th>cost</th><th>savings</th></tr></thead><tbody id=\"tenants\"></tbody></table>\n"
    "</main>\n"
    "<script>\n"
    "\"use strict\";\n"
    "const $ = (id) => document.getElementById(id);\n"
    "const num = (v) => v == null ? \"-\" : Math.round(v).toLocaleString(\"en-US\");\n"
    "const pct = (v) => v == null ? \"-\" : (100 * v).toFixed(1) + \"%\";\n"
    "const ms = (v) => v == null ? \"-\" : (v >= 1000 ? (v / 1000).toFixed(2) + \" s\" : Math.round(v) + \" ms\");\n"
    "const usd = (v) => v == null ? \"-\" : \"$\" + (Math.abs(v) < 1 ? v.toFixed(4) : v.toFixed(2));\n"
    "const esc = (s) => String(s).replace(/[&<>\"']/g, (c) => \"&#\" + c.charCodeAt(0) + \";\");\n"
    "function sum(a) { return a.reduce((x, y) => x + (y || 0), 0); }\n"
    "function chart(id, lines, colors, fmt) {\n"
    "  const W = 300, H = 90, top = 12, bottom = 4;\n"
    "  const all = lines.flat().filter((v) => v != null);\n"
    "  const max = Math.max(0, ...all), min = Math.min(0, ...all);\n"
    "  const span = max - min || 1;\n"
    "  let s = '<svg viewBox=\"0 0 ' + W + ' ' + H + '\" preserveAspectRatio=\"none\" role=\"img\">';\n"
    "  s += '<line x1=\"0\" x2=\"' + W + '\" y1=\"' + (H - bottom) + '\" y2=\"' + (H - bottom) + '\" stroke=\"#e2e5ea\"/>';\n"
    "  lines.forEach((pts, k) => {\n"
    "    const n = Math.max(1, pts.length - 1);\n"
    "    const p = pts.map((v, i) => (i * W / n).toFixed(1) + \",\" +\n"
    "      (H - bottom - ((v == null ? 0 : v) - min) / span * (H - top - bottom)).toFixed(1)).join(\" \");\n"
    "    s += '<polyline fill=\"none\" stroke=\"' + colors[k] + '\" stroke-width=\"1.6\" points=\"' + p + '\"/>';\n"
    "  });\n"
    "  s += '<text x=\"2\" y=\"10\" font-size=\"9\" fill=\"#5b6477\">max ' + esc(fmt(max)) + ' (60 min)</text></svg>';\n"
    "  $(id).innerHTML = s;\n"
    "}\n"
    "function rows(id, list, key) {\n"
    "  $(id).innerHTML = list.map((e) => \"<tr><td>\" + esc(e[key]) + \"</td><td>\" + num(e.requests) +\n"
    "    \"</td><td>\" + num(e.tokens_in) + \"</td><td>\" + num(e.tokens_out) + \"</td><td>\" +\n"
    "    usd(e.cost_usd) + \"</td><td>\" + usd(e.savings_usd) + \"</td></tr>\").join(\"\");\n"
    "}\n"
    "function render(m) {\n"
    "  const p = m.performance, u = m.upstream, c = m.cost, s = m.series;\n"
    "  $(\"host\").textContent = m.host.processes + \" worker processes\" + (m.host.shared ? \"\" : \" (not shared)\") +\n"
    "    \", since \" + new Date(m.host.since_unix * 1000).toISOString().replace(\".000\", \"\");\n"
    "  $(\"requests_total\").textContent = num(p.requests_total);\n"
    "  $(\"rate\").textContent = (sum(s.requests.slice(-5)) / 5).toFixed(1);\n"
    "  $(\"latency\").textContent = ms(p.latency_ms.p50) + \" / \" + ms(p.latency_ms.p95);\n"
    "  $(\"error_rate\").textContent = pct(p.error_rate);\n"
    "  $(\"rc_hit\").textContent = pct(m.response_cache.hit_rate);\n"
    "  $(\"tc_hit\").textContent = pct(m.token_count_cache.hit_rate);\n"
    "  $(\"tokens\").textContent = num(p.tokens.input) + \" / \" + num(p.tokens.output);\n"
    "  $(\"cost\").textContent = usd(c.total_usd);\n"
    "  $(\"savings\").textContent = usd(c.savings_usd);\n"
    "  $(\"up_latency\").textContent = ms(u.latency_ms.p95) + \" / \" + ms(u.ttfb_ms.p95);\n"
    "  $(\"conns\").textContent = num(u.open_connections);\n"
    "  $(\"procs\").textContent = num(p.in_flight) + \" / \" + num(m.host.processes);\n"
    "  chart(\"c_req\", [s.requests, s.errors], [\"#2b6cb0\", \"#c53030\"], num);\n"
    "  chart(\"c_lat\", [s.p50_ms, s.p95_ms], [\"#2b6cb0\", \"#dd6b20\"], ms);\n"
    "  chart(\"c_tok\", [s.tokens_in, s.tokens_out], [\"#2b6cb0\", \"#38a169\"], num);\n"
    "  chart(\"c_cost\", [s.cost_usd, s.savings_usd], [\"#c53030\", \"#38a169\"], usd);\n"
    "  chart(\"c_cache\", [s.cache_hits, s.cache_misses], [\"#38a169\", \"#718096\"], num);\n"
    "  chart(\"c_err\", [s.requests.map((r, i) => r ? s.errors[i] / r : null)], [\"#c53030\"], pct);\n"
    "  rows(\"models\", c.by_model, \"model\");\n"
    "  rows(\"tenants\", c.by_tenant.concat(c.tenant_other.requests ? [c.tenant_other] : []), \"tenant\");\n"
    "  $(\"updated\").textContent = \"updated \" + new Date(m.host.now_unix * 1000).toISOString().slice(11, 19) + \" UTC\";\n"
    "  document.body.setAttribute(\"data-ready\", \"1\");\n"
    "}\n"
    "async function tick() {\n"
    "  try {\n"
    "    const r = await fetch(\"v1/metrics\", {cache: \"no-store\", credentials: \"same-origin\"});\n"
    "    if (!r.ok) { throw new Error(\"HTTP \" + r.status); }\n"
    "    render(await r.json());\n"
    "    $(\"err\").textContent = \"\";\n"
    "  } catch (e) {\n"
    "    $(\"err\").textContent = \"metrics unavailable: \" + e.message;\n"
    "  }\n"
    "}\n"
    "tick();\n"
    "setInterval(tick, 5000);\n"
    "</script>\n"
    "</body>\n"
    "</html>\n";
/* clang-format on */

static void deny(struct wk_req *r, int status, const char *type, const char *msg, const char *extra)
{
    struct tr_error err;
    struct buf b;

    memset(&err, 0, sizeof(err));
    tr_error_set(&err, CCP_ERR_INVALID, "%s", msg);
    err.status = status;
    err.type = type;
    buf_init(&b, 16 * 1024);
    r->head = false;
    if (tr_error_json(&err, &b) == CCP_OK) {
        wk_send_json(r, status, extra, b.ptr, b.len);
    } else {
        wk_send_error(r, &err);
    }
    buf_release(&b);
}

/* ADMIN_LOCALHOST_ONLY and ADMIN_API_KEY. False: the answer was sent. */
static bool admin_allowed(struct wk_req *r)
{
    const struct conf *c = r->w->conf;
    const char *key = c->admin_api_key;
    const char *given, *auth;
    char pass[256];

    if (c->admin_localhost_only && !wk_addr_is_loopback(r->io->param(r->io, "REMOTE_ADDR"))) {
        LOG_WARN("admin endpoint %s refused: client is not on this host", r->path);
        deny(r, 403, "permission_error", "admin endpoints are limited to localhost", NULL);
        return false;
    }
    if (key == NULL || key[0] == '\0') {
        return true;
    }
    given = r->io->param(r->io, "HTTP_X_API_KEY");
    if (given != NULL && wk_secret_equal(given, key)) {
        return true;
    }
    auth = r->io->param(r->io, "HTTP_AUTHORIZATION");
    if (auth != NULL && strncmp(auth, "Bearer ", 7) == 0 && wk_secret_equal(auth + 7, key)) {
        return true;
    }
    if (wk_basic_password(auth, pass, sizeof(pass))) {
        bool ok = wk_secret_equal(pass, key);

        explicit_bzero(pass, sizeof(pass));
        if (ok) {
            return true;
        }
    }
    deny(r, 401, "authentication_error",
         "admin endpoints need ADMIN_API_KEY (x-api-key, Bearer, or Basic password)",
         "WWW-Authenticate: Basic realm=\"ccproxy admin\", charset=\"UTF-8\"\r\n");
    return false;
}

static void send_metrics(struct wk_req *r, bool prometheus)
{
    struct wk_msnap *s = NULL;
    struct tr_error err;
    struct buf b;
    enum ccp_err rc;

    memset(&err, 0, sizeof(err));
    buf_init(&b, METRICS_MAX);
    s = ccp_malloc(sizeof(*s));
    if (s == NULL) {
        tr_error_set(&err, CCP_ERR_NOMEM, "out of memory");
        wk_send_error(r, &err);
        goto out;
    }
    wk_metrics_snapshot(s);
    rc = prometheus ? wk_metrics_prometheus(s, &b) : wk_metrics_json(s, &b);
    if (rc != CCP_OK) {
        tr_error_set(&err, rc, "could not render the metrics");
        wk_send_error(r, &err);
        goto out;
    }
    if (prometheus) {
        if (wk_send_head(r, 200, "text/plain; version=0.0.4; charset=utf-8", no_store) == 0 &&
            wk_send_body(r, b.ptr, b.len) == 0) {
            wk_end_answer(r);
        }
    } else {
        wk_send_json(r, 200, no_store, b.ptr, b.len);
    }
out:
    ccp_free(s);
    buf_release(&b);
}

void wk_route_metrics_json(struct wk_req *r)
{
    if (admin_allowed(r)) {
        send_metrics(r, false);
    }
}

void wk_route_metrics_prometheus(struct wk_req *r)
{
    if (admin_allowed(r)) {
        send_metrics(r, true);
    }
}

void wk_route_status(struct wk_req *r)
{
    if (!admin_allowed(r)) {
        return;
    }
    if (wk_send_head(r, 200, "text/html; charset=utf-8",
                     "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
                     "Content-Security-Policy: default-src 'none'; script-src 'unsafe-inline'; "
                     "style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:\r\n") !=
        0) {
        return;
    }
    if (wk_send_body(r, status_html, sizeof(status_html) - 1) == 0) {
        wk_end_answer(r);
    }
}
