import FlashgateCore

// The pure parts of `flashgate top`: reading the gateway's `GET /metrics` scrape (Prometheus
// text format 0.0.4), turning two scrapes into rates, and rendering them as a fixed-width table.
// The loop that scrapes on a clock and the HTTP fetch are in TopLoop.swift.

/// One sample line of the Prometheus text exposition format: `name{label="value",…} value [timestamp]`.
package struct MetricSample: Sendable, Equatable {
    package var name: String
    package var labels: [String: String]
    package var value: Double

    package init(name: String, labels: [String: String] = [:], value: Double) {
        self.name = name
        self.labels = labels
        self.value = value
    }
}

/// A line of a scrape that is not valid text format; `line` counts from 1.
package struct MetricsParseError: Error, Equatable, CustomStringConvertible {
    package var line: Int
    package var reason: String

    package var description: String { "metrics line \(line): \(reason)" }
}

/// A parser for the Prometheus text exposition format 0.0.4.
package enum PrometheusText {
    /// Parses every sample line; `# HELP`, `# TYPE` and other comments and blank lines are skipped.
    /// Label values are unescaped (`\\`, `\"`, `\n`); values may be `+Inf`, `-Inf` or `NaN`; a
    /// trailing timestamp is accepted and ignored. When `names` is given, lines of other metrics
    /// are skipped without being parsed, so a metric this reader does not know never breaks it.
    package static func parse(_ text: String, only names: Set<String>? = nil) throws(MetricsParseError)
        -> [MetricSample]
    {
        var samples: [MetricSample] = []
        var number = 0
        // Split on bytes: as Characters, "\r\n" is one grapheme that no "\n" split would find.
        for rawLine in text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            number += 1
            var bytes = Array(rawLine)
            if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
            var cursor = LineCursor(bytes: bytes, line: number)
            cursor.skipBlanks()
            if cursor.atEnd || cursor.peek == UInt8(ascii: "#") { continue }
            let name = try cursor.name(allowColon: true, what: "metric name")
            if let names, !names.contains(name) { continue }
            cursor.skipBlanks()
            var labels: [String: String] = [:]
            if cursor.peek == UInt8(ascii: "{") {
                labels = try cursor.labels()
                cursor.skipBlanks()
            }
            let value = try cursor.value()
            cursor.skipBlanks()
            if !cursor.atEnd {
                let timestamp = cursor.token()
                guard Int64(timestamp) != nil else { throw cursor.error("expected a timestamp, got '\(timestamp)'") }
                cursor.skipBlanks()
                guard cursor.atEnd else { throw cursor.error("unexpected text after the timestamp") }
            }
            samples.append(MetricSample(name: name, labels: labels, value: value))
        }
        return samples
    }

    /// A sample value: a decimal or exponent float, `+Inf`, `-Inf`, `Inf` or `NaN`.
    package static func value(_ token: String) -> Double? {
        switch token {
        case "+Inf", "Inf": return .infinity
        case "-Inf": return -.infinity
        case "NaN": return .nan
        default:
            // Swift's parser also takes "inf", "nan" and hex floats; the format has none of those.
            guard let first = token.utf8.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+")
                || first == UInt8(ascii: ".") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first),
                !token.lowercased().contains("x"), let value = Double(token), value.isFinite
            else { return nil }
            return value
        }
    }
}

/// Reads one line byte by byte.
private struct LineCursor {
    let bytes: [UInt8]
    let line: Int
    var index = 0

    var atEnd: Bool { index >= bytes.count }
    var peek: UInt8? { atEnd ? nil : bytes[index] }

    func error(_ reason: String) -> MetricsParseError { MetricsParseError(line: line, reason: reason) }

    mutating func skipBlanks() {
        while let byte = peek, byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") { index += 1 }
    }

    /// `[a-zA-Z_:][a-zA-Z0-9_:]*` for metric names, the same without `:` for label names.
    mutating func name(allowColon: Bool, what: String) throws(MetricsParseError) -> String {
        let start = index
        while let byte = peek {
            let letter = (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte | 0x20) || byte == UInt8(ascii: "_")
            let digit = (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
            guard letter || (allowColon && byte == UInt8(ascii: ":")) || (digit && index > start) else { break }
            index += 1
        }
        guard index > start else { throw error("expected a \(what)") }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    /// `{name="value",…}` with an optional trailing comma; the cursor starts on `{`.
    mutating func labels() throws(MetricsParseError) -> [String: String] {
        index += 1
        var labels: [String: String] = [:]
        while true {
            skipBlanks()
            if peek == UInt8(ascii: "}") {
                index += 1
                return labels
            }
            let name = try self.name(allowColon: false, what: "label name")
            skipBlanks()
            guard peek == UInt8(ascii: "=") else { throw error("expected '=' after label \(name)") }
            index += 1
            skipBlanks()
            guard peek == UInt8(ascii: "\"") else { throw error("expected '\"' to open the value of label \(name)") }
            index += 1
            labels[name] = try quoted(label: name)
            skipBlanks()
            switch peek {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "}"): continue
            default: throw error("expected ',' or '}' after the value of label \(name)")
            }
        }
    }

    /// The rest of a label value after its opening quote, unescaped, through the closing quote.
    mutating func quoted(label: String) throws(MetricsParseError) -> String {
        var value: [UInt8] = []
        while let byte = peek {
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                return String(decoding: value, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard let escaped = peek else { break }
                index += 1
                switch escaped {
                case UInt8(ascii: "n"): value.append(UInt8(ascii: "\n"))
                case UInt8(ascii: "\\"), UInt8(ascii: "\""): value.append(escaped)
                default: value += [byte, escaped]  // not an escape the format defines: kept as written
                }
            default:
                value.append(byte)
            }
        }
        throw error("the value of label \(label) is not closed")
    }

    mutating func token() -> String {
        let start = index
        while let byte = peek, byte != UInt8(ascii: " "), byte != UInt8(ascii: "\t") { index += 1 }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    mutating func value() throws(MetricsParseError) -> Double {
        let text = token()
        guard !text.isEmpty else { throw error("expected a value") }
        guard let value = PrometheusText.value(text) else { throw error("expected a value, got '\(text)'") }
        return value
    }
}

/// What `flashgate top` needs from one scrape, summed per team. Counters are kept as read, so two
/// scrapes give rates; gauges are kept as the latest value.
package struct TopScrape: Sendable, Equatable {
    package struct Team: Sendable, Equatable {
        /// `flashgate_requests_total`, every API endpoint, model, route, status and cache outcome
        /// (not `operationalEndpoints`).
        package var requests: Double = 0
        /// Requests answered from the response cache (`cache="hit"`).
        package var cacheHits: Double = 0
        /// Requests that looked the cache up: `hit`, `miss` or `joined` (`bypass` and `none` did not).
        package var cacheLookups: Double = 0
        /// `flashgate_cost_usd_total`, every model.
        package var costUSD: Double = 0
        /// The smallest `flashgate_budget_remaining_usd` over the team's budgets: the one that binds first.
        package var budgetRemainingUSD: Double?

        package init(
            requests: Double = 0, cacheHits: Double = 0, cacheLookups: Double = 0, costUSD: Double = 0,
            budgetRemainingUSD: Double? = nil
        ) {
            self.requests = requests
            self.cacheHits = cacheHits
            self.cacheLookups = cacheLookups
            self.costUSD = costUSD
            self.budgetRemainingUSD = budgetRemainingUSD
        }
    }

    package var teams: [String: Team]
    /// `flashgate_requests_in_flight`; nil when the scrape has none.
    package var inFlight: Double?
    /// `flashgate_upstream_retries_total`, every route.
    package var retries: Double
    /// `flashgate_breaker_state` by route: 0 closed, 1 half open, 2 open.
    package var breakers: [String: Double]

    package init(teams: [String: Team] = [:], inFlight: Double? = nil, retries: Double = 0, breakers: [String: Double] = [:]) {
        self.teams = teams
        self.inFlight = inFlight
        self.retries = retries
        self.breakers = breakers
    }

    /// The metric names a scrape is read for; other metrics are skipped unparsed.
    package static let metricNames: Set<String> = Set(
        [MetricFamily.requests, .cost, .inFlight, .budget, .retries, .breaker].map(\.name))

    /// Parses a `GET /metrics` body and sums what `top` shows.
    package init(scrape text: String) throws(MetricsParseError) {
        self.init(samples: try PrometheusText.parse(text, only: Self.metricNames))
    }

    /// Endpoints that serve the operator, not an API caller: `top`'s own scrapes among them, which
    /// had shown an idle gateway busy.
    package static let operationalEndpoints: Set<String> = ["metrics", "health", "admin", "dashboard"]

    /// Sums samples per team. NaN values count as absent.
    package init(samples: [MetricSample]) {
        self.init()
        for sample in samples where !sample.value.isNaN {
            let team = sample.labels["team"] ?? ""
            switch sample.name {
            case MetricFamily.requests.name:
                if let endpoint = sample.labels["endpoint"], Self.operationalEndpoints.contains(endpoint) { continue }
                teams[team, default: Team()].requests += sample.value
                switch sample.labels["cache"] {
                case "hit":
                    teams[team, default: Team()].cacheHits += sample.value
                    teams[team, default: Team()].cacheLookups += sample.value
                case "miss", "joined": teams[team, default: Team()].cacheLookups += sample.value
                default: break
                }
            case MetricFamily.cost.name:
                teams[team, default: Team()].costUSD += sample.value
            case MetricFamily.budget.name:
                let current = teams[team, default: Team()].budgetRemainingUSD
                teams[team, default: Team()].budgetRemainingUSD = min(current ?? sample.value, sample.value)
            case MetricFamily.inFlight.name:
                inFlight = (inFlight ?? 0) + sample.value
            case MetricFamily.retries.name:
                retries += sample.value
            case MetricFamily.breaker.name:
                breakers[sample.labels["route"] ?? ""] = sample.value
            default:
                break
            }
        }
    }
}

/// Rates between two scrapes: per team and in total, sorted busiest first.
package struct TopRates: Sendable, Equatable {
    package struct Row: Sendable, Equatable {
        package var team: String
        package var requestsPerSecond: Double
        package var dollarsPerHour: Double
        /// Hits over cache lookups in the window, in percent; nil when nothing looked the cache up.
        package var cacheHitPercent: Double?
        /// Only the total row has it: the gauge has no team label.
        package var inFlight: Double?
        /// Only team rows have it, when the team has a budget.
        package var budgetRemainingUSD: Double?

        package init(
            team: String, requestsPerSecond: Double, dollarsPerHour: Double, cacheHitPercent: Double?,
            inFlight: Double? = nil, budgetRemainingUSD: Double? = nil
        ) {
            self.team = team
            self.requestsPerSecond = requestsPerSecond
            self.dollarsPerHour = dollarsPerHour
            self.cacheHitPercent = cacheHitPercent
            self.inFlight = inFlight
            self.budgetRemainingUSD = budgetRemainingUSD
        }
    }

    package var teams: [Row]
    package var total: Row
    package var retriesPerSecond: Double
    /// Routes whose breaker is open, then those half open, each sorted by name.
    package var openBreakers: [String]
    package var halfOpenBreakers: [String]

    /// Rates from `previous` to `current`, `elapsed` apart. A counter that went down was reset (the
    /// gateway restarted), so its whole current value counts as the increase, as Prometheus's
    /// `rate()` does; a team missing from `previous` started at zero.
    package init(from previous: TopScrape, to current: TopScrape, elapsed: Duration) {
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        func increase(_ now: Double, _ before: Double?) -> Double {
            guard let before else { return now }
            return now >= before ? now - before : now
        }
        func perSecond(_ delta: Double) -> Double { seconds > 0 ? delta / seconds : 0 }
        var sum = (requests: 0.0, cost: 0.0, hits: 0.0, lookups: 0.0)
        var rows: [Row] = []
        for (name, now) in current.teams {
            let before = previous.teams[name]
            let requests = increase(now.requests, before?.requests)
            let cost = increase(now.costUSD, before?.costUSD)
            let hits = increase(now.cacheHits, before?.cacheHits)
            let lookups = increase(now.cacheLookups, before?.cacheLookups)
            sum.requests += requests
            sum.cost += cost
            sum.hits += hits
            sum.lookups += lookups
            rows.append(
                Row(
                    team: name, requestsPerSecond: perSecond(requests), dollarsPerHour: perSecond(cost) * 3600,
                    cacheHitPercent: lookups > 0 ? min(100, hits / lookups * 100) : nil,
                    budgetRemainingUSD: now.budgetRemainingUSD))
        }
        teams = rows.sorted {
            ($0.requestsPerSecond, $0.dollarsPerHour, $1.team) > ($1.requestsPerSecond, $1.dollarsPerHour, $0.team)
        }
        total = Row(
            team: "total", requestsPerSecond: perSecond(sum.requests), dollarsPerHour: perSecond(sum.cost) * 3600,
            cacheHitPercent: sum.lookups > 0 ? min(100, sum.hits / sum.lookups * 100) : nil, inFlight: current.inFlight)
        retriesPerSecond = perSecond(increase(current.retries, previous.retries))
        openBreakers = current.breakers.filter { $0.value >= 2 }.keys.sorted()
        halfOpenBreakers = current.breakers.filter { $0.value >= 1 && $0.value < 2 }.keys.sorted()
    }
}

/// The text of one `flashgate top` frame.
package enum TopView {
    /// Clears the screen and moves the cursor home; written before each frame on a terminal.
    package static let clearScreen = "\u{1B}[H\u{1B}[2J"

    static let headers = ["TEAM", "REQ/S", "$/H", "CACHE HIT %", "IN FLIGHT", "BUDGET LEFT"]
    static let maxTeamWidth = 24

    /// A title line, the table (one row per team, then `total`) and a line on retries and
    /// breakers. Columns are as wide as their header or widest cell; numbers are right-aligned with
    /// fixed decimals; `-` stands for nothing to show. No ANSI codes: callers add `clearScreen`.
    package static func render(_ rates: TopRates, title: String) -> String {
        var cells = [headers]
        for row in rates.teams + [rates.total] {
            cells.append([
                teamName(row.team), fixed(row.requestsPerSecond, 2), fixed(row.dollarsPerHour, 4),
                row.cacheHitPercent.map { fixed($0, 1) } ?? "-", row.inFlight.map { fixed($0, 0) } ?? "-",
                row.budgetRemainingUSD.map { fixed($0, 2) } ?? "-",
            ])
        }
        let widths = headers.indices.map { i in cells.map { $0[i].count }.max() ?? 0 }
        let table = cells.map { row in
            row.enumerated().map { i, cell in
                let pad = String(repeating: " ", count: widths[i] - cell.count)
                return i == 0 ? cell + pad : pad + cell
            }.joined(separator: "  ")
        }
        var status = "upstream retries \(fixed(rates.retriesPerSecond, 2))/s"
        if rates.openBreakers.isEmpty && rates.halfOpenBreakers.isEmpty {
            status += "  breakers: all closed"
        } else {
            if !rates.openBreakers.isEmpty { status += "  open: " + rates.openBreakers.joined(separator: ", ") }
            if !rates.halfOpenBreakers.isEmpty {
                status += "  half open: " + rates.halfOpenBreakers.joined(separator: ", ")
            }
        }
        return ([title] + table + [status]).joined(separator: "\n") + "\n"
    }

    /// The team as shown: `(none)` for requests without one, long names cut with `…`.
    static func teamName(_ team: String) -> String {
        if team.isEmpty { return "(none)" }
        return team.count > maxTeamWidth ? String(team.prefix(maxTeamWidth - 1)) + "…" : team
    }

    /// `x` with exactly `digits` decimals, half away from zero; `-` when not finite.
    package static func fixed(_ x: Double, _ digits: Int) -> String {
        guard x.isFinite else { return "-" }
        guard abs(x) < 1e15 else { return "\(x)" }
        var scale: Int64 = 1
        for _ in 0..<digits { scale *= 10 }
        let scaled = Int64((abs(x) * Double(scale)).rounded())
        let sign = x < 0 && scaled != 0 ? "-" : ""
        return sign + FixedPointText.format(scaled, decimals: digits)
    }
}
