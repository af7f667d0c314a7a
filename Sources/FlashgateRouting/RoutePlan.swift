import FlashgateCore

/// One place a model's call may go: the route, the model name there, and the transport.
package struct ResolvedRoute: Sendable {
    package var route: RouteConfig
    package var upstreamModel: String
    package var transport: any UpstreamTransport

    /// The model id a call on this route is priced as: the upstream model, except on a `mock`
    /// route, whose offline answers cost nothing whatever id they answer (its `mock` row).
    package var pricedModel: String { route.kind == .mock ? "mock" : upstreamModel }
}

/// Every route a call may use, in the order this request tries them, and whether it hedges.
/// The first target is the primary: the cache key, the cost estimate and the cache TTL use it.
package struct RoutePlan: Sendable {
    package var targets: [ResolvedRoute]
    package var hedge: HedgeConfig?

    package var primary: ResolvedRoute { targets[0] }
    package var route: RouteConfig { primary.route }
    package var upstreamModel: String { primary.upstreamModel }
    package var transport: any UpstreamTransport { primary.transport }
}
