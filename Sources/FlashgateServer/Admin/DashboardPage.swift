/// `GET /dashboard`: one self-contained page, `Admin/dashboard.html` (HTML, CSS and JS inline; nothing
/// from elsewhere), embedded in the binary at build time.
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
            body: PackageResources.dashboard_html)
    }
}
