import FlashgateCore
import FlashgateRouting
import Prometheus

/// Each finished request into counters and histograms. The label values are resolved from one
/// snapshot of the configured sets, and every handle comes from `handles`: the request's own
/// series from one bundle per label tuple, its attempts' from one lookup each, instead of a
/// registry lookup (lock, label array, help text) per metric.
extension PrometheusTelemetry {
    package func finished(_ s: RequestRecord.Summary) {
        let snapshot = labels.withLock { $0 }
        let endpoint = Self.endpointLabel(s.endpoint)
        let team = snapshot.team(s.team)
        let model = snapshot.model(s.model)
        let route = snapshot.route(s.route)
        let status = Self.statusLabel(s.status)
        let cache = Self.cacheLabel(s.cache)
        let series = handles.request(
            .init(endpoint: endpoint, team: team, model: model, route: route, status: status, cache: cache))
        series.counter(.requests) {
            registry.makeCounter(
                descriptor: Family.requests.descriptor,
                labels: [
                    ("endpoint", endpoint), ("model", model), ("team", team), ("route", route), ("status", status),
                    ("cache", cache),
                ]
            )
        }.increment()
        if s.aborted {
            handles.counter(.init(family: .aborted, a: endpoint, b: team)) {
                registry.makeCounter(
                    descriptor: Family.aborted.descriptor, labels: [("endpoint", endpoint), ("team", team)])
            }.increment()
        }

        series.histogram(.duration) {
            histogram(Family.duration.descriptor, "endpoint", endpoint, Self.durationBuckets)
        }.record(s.duration)
        if let ttfb = s.timeToFirstByte {
            series.histogram(.ttfb) { histogram(Family.ttfb.descriptor, "endpoint", endpoint, Self.durationBuckets) }
                .record(ttfb)
        }
        if let upstream = s.upstreamTime {
            series.histogram(.upstream) { histogram(Family.upstream.descriptor, "route", route, Self.durationBuckets) }
                .record(upstream)
            if let ttfb = s.timeToFirstByte {
                // Answered at its first attempt, the upstream's own share is libcurl's time to the
                // head: the hand-offs to the curl thread and back are Flashgate's. After retries,
                // the retry owner's time (the failed attempts and backoff were the upstream's).
                let own = s.attempts.count == 1 ? s.upstreamWireTime ?? upstream : upstream
                series.histogram(.overhead) {
                    histogram(Family.overhead.descriptor, "endpoint", endpoint, Self.overheadBuckets)
                }.record(max(.zero, ttfb - own))
            }
        }

        // Kinds do not overlap except `cached`, the part of the prompt Gemini's context cache
        // served: `output` is the answer without its thoughts (the access log's output_tokens is
        // their sum). Tokens the upstream processed only: a cache hit or a joined follower carries the usage of an
        // answer already counted, so it adds none (its saving is in `cache_saved_usd`).
        if s.cache != "hit" && s.cache != "joined" {
            for (slot, kind, count) in [
                (MetricHandles.RequestSeries.Slot.promptTokens, "prompt", s.promptTokens),
                (.outputTokens, "output", max(0, s.outputTokens - s.thoughtsTokens)),
                (.thoughtsTokens, "thoughts", s.thoughtsTokens), (.cachedTokens, "cached", s.cachedTokens),
            ] where count > 0 {
                series.counter(slot) {
                    registry.makeCounter(
                        descriptor: Family.tokens.descriptor, labels: [("team", team), ("model", model), ("kind", kind)])
                }.increment(by: Int64(count))
            }
        }
        if s.cost > .zero {
            series.counter(.cost) { spendCounter(Family.cost.descriptor, team: team, model: model) }
                .increment(by: Self.dollars(s.cost))
        }
        if s.saved > .zero {
            series.counter(.saved) { spendCounter(Family.saved.descriptor, team: team, model: model) }
                .increment(by: Self.dollars(s.saved))
        }
        if let limit = s.rejectedBy {
            handles.counter(.init(family: .rejections, a: team, b: limit)) {
                registry.makeCounter(descriptor: Family.rejections.descriptor, labels: [("team", team), ("limit", limit)])
            }.increment()
        }
        if let reason = s.refused {
            handles.counter(.init(family: .refusals, a: reason.rawValue, b: team)) {
                registry.makeCounter(descriptor: Family.refusals.descriptor, labels: [("reason", reason.rawValue), ("team", team)])
            }.increment()
        }
        for budget in s.softBudgetsExceeded {
            guard let labels = budgetLabels(budget) else { continue }
            registry.makeCounter(descriptor: Family.softExceeded.descriptor, labels: labels).increment()
        }

        for (index, attempt) in s.attempts.enumerated() {
            let attemptRoute = snapshot.route(attempt.route)
            let outcome = Self.outcomeLabel(attempt)
            handles.counter(.init(family: .attempts, a: attemptRoute, b: outcome)) {
                registry.makeCounter(
                    descriptor: Family.attempts.descriptor, labels: [("route", attemptRoute), ("outcome", outcome)])
            }.increment()
            // Every attempt after the request's first is a retry (a failover or a hedge included),
            // counted against the route it went to.
            if index > 0 {
                handles.counter(.init(family: .retries, a: attemptRoute)) {
                    registry.makeCounter(descriptor: Family.retries.descriptor, labels: [("route", attemptRoute)])
                }.increment()
            }
        }
    }

    private func histogram(
        _ descriptor: MetricNameDescriptor, _ label: String, _ value: String, _ buckets: [Duration]
    ) -> DurationHistogram {
        registry.makeDurationHistogram(descriptor: descriptor, labels: [(label, value)], buckets: buckets)
    }

    private func spendCounter(_ descriptor: MetricNameDescriptor, team: String, model: String) -> Counter {
        registry.makeCounter(descriptor: descriptor, labels: [("team", team), ("model", model)])
    }
}
