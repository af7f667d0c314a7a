/// Metric label values from closed sets only, decided from the configuration: a configured team
/// id, a configured (or priced) model id, a configured route name — anything else is `other`,
/// and a missing one `none`. Never raw paths, keys or messages, so a client cannot grow the
/// metrics without bound. Immutable: a reload makes a new one.
package final class MetricLabels: Sendable {
    package let config: FlashgateConfig
    let teams: Set<String>
    let routes: Set<String>
    let pricedModels: Set<String>

    package init(_ config: FlashgateConfig) {
        self.config = config
        teams = Set(config.teams.map(\.id) + [Caller.defaultTeam])
        routes = Set(config.routes.map(\.name))
        pricedModels = Set(config.prices.prefixes)
    }

    package func team(_ team: String?) -> String {
        guard let team else { return "none" }
        return teams.contains(team) ? team : "other"
    }

    package func model(_ model: String?) -> String {
        guard let model else { return "none" }
        let bare = ModelID.bare(model)
        if let configured = config.model(answering: bare) { return configured.id }
        return pricedModels.contains(bare) ? bare : "other"
    }

    package func route(_ route: String?) -> String {
        guard let route else { return "none" }
        return routes.contains(route) ? route : "other"
    }
}
