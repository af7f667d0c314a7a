import FlashgateCore

/// Where one client-facing model goes: the route, the model name upstream, and the transport.
package struct ResolvedRoute: Sendable {
    package var route: RouteConfig
    package var upstreamModel: String
    package var transport: any UpstreamTransport
}

/// Resolves model ids to routes and builds the upstream request for each call. Configured model
/// ids win; anything else goes to the first passthrough route unchanged.
package final class RouteTable: Sendable {
    private let config: FlashgateConfig
    private let http: any UpstreamTransport
    private let mock: any UpstreamTransport

    package init(config: FlashgateConfig, http: any UpstreamTransport, mock: any UpstreamTransport = MockTransport()) {
        self.config = config
        self.http = http
        self.mock = mock
    }

    package var configuredModelIDs: [String] { config.models.map(\.id) }

    package var passthroughRoute: ResolvedRoute? {
        config.passthroughRoute.map { ResolvedRoute(route: $0, upstreamModel: "", transport: transport(for: $0)) }
    }

    package func resolve(model: String) -> ResolvedRoute? {
        let id = model.hasPrefix("models/") ? String(model.dropFirst(7)) : model
        if let configured = config.models.first(where: { $0.id == id }), let route = config.route(named: configured.route) {
            return ResolvedRoute(route: route, upstreamModel: configured.upstreamModel, transport: transport(for: route))
        }
        guard let route = config.passthroughRoute else { return nil }
        return ResolvedRoute(route: route, upstreamModel: id, transport: transport(for: route))
    }

    private func transport(for route: RouteConfig) -> any UpstreamTransport {
        route.kind == .mock ? mock : http
    }

    /// The upstream call for one native method on a resolved route.
    package func request(
        _ resolved: ResolvedRoute, method: NativeMethod, sse: Bool, body: [UInt8]
    ) -> UpstreamRequest {
        var url = "\(base(resolved.route))/models/\(resolved.upstreamModel):\(method.rawValue)"
        if method == .streamGenerateContent && sse { url += "?alt=sse" }
        return UpstreamRequest(
            method: "POST", url: url, headers: headers(resolved.route, json: true), body: body,
            timeouts: config.upstreamTimeouts)
    }

    /// `GET …/models` on a route.
    package func listRequest(_ route: RouteConfig) -> UpstreamRequest {
        UpstreamRequest(
            method: "GET", url: "\(base(route))/models?pageSize=1000", headers: headers(route, json: false),
            timeouts: config.upstreamTimeouts)
    }

    private func base(_ route: RouteConfig) -> String {
        route.kind == .mock ? "mock:///v1beta" : "\(route.baseURL)/\(route.apiVersion)"
    }

    private func headers(_ route: RouteConfig, json: Bool) -> [(name: String, value: String)] {
        var headers: [(name: String, value: String)] = []
        if json { headers.append(("content-type", "application/json")) }
        if let key = route.apiKey { headers.append(("x-goog-api-key", key.value)) }
        return headers
    }
}
