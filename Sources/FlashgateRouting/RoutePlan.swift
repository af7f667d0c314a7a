import FlashgateCore

/// One place a model's call may go: the route, the model name there, and the transport.
///
/// A class: a call hands its routes around a dozen times (plans, attempts, outcomes, the
/// started answer), and a copy of the struct retained every string and array of the route's
/// config each time.
package final class ResolvedRoute: Sendable {
    package let route: RouteConfig
    package let upstreamModel: String
    package let transport: any UpstreamTransport

    package init(route: RouteConfig, upstreamModel: String, transport: any UpstreamTransport) {
        self.route = route
        self.upstreamModel = upstreamModel
        self.transport = transport
    }

    /// The model id a call on this route is priced as: the upstream model, except on a `mock`
    /// route, whose offline answers cost nothing whatever id they answer (its `mock` row).
    package var pricedModel: String { route.kind == .mock ? "mock" : upstreamModel }
}

/// Every route a call may use, in the order this request tries them, and whether it hedges.
/// The first target is the primary: the cache key, the cost estimate and the cache TTL use it.
package struct RoutePlan: Sendable {
    package var targets: [ResolvedRoute]
    package var hedge: HedgeConfig?
    /// The client's model id as routing saw it (`ModelID.description`: `models/gemini-2.5-flash`
    /// is `gemini-2.5-flash`; an alias is its configured model's id): what rate limits, the
    /// ledger, metrics and per-model config are keyed by, however the client named the model.
    /// Answers echo the client's own spelling.
    package var model: String

    package var primary: ResolvedRoute { targets[0] }
    package var route: RouteConfig { primary.route }
    package var upstreamModel: String { primary.upstreamModel }
    package var transport: any UpstreamTransport { primary.transport }
}
