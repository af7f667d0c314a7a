import Foundation

/// A parsed configuration document, independent of the YAML library that produced it, so the
/// config model and its validation live in Core and are tested without files.
package indirect enum ConfigNode: Sendable, Equatable {
    case null
    case scalar(String)
    case list([ConfigNode])
    case map([(key: String, value: ConfigNode)])

    package static func == (lhs: ConfigNode, rhs: ConfigNode) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): true
        case (.scalar(let a), .scalar(let b)): a == b
        case (.list(let a), .list(let b)): a == b
        case (.map(let a), .map(let b)): a.map(\.key) == b.map(\.key) && a.map(\.value) == b.map(\.value)
        default: false
        }
    }
}

/// A configuration problem, named by its key path (`limits.max_body_bytes`), so an operator
/// can find it at once.
package struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    package var path: String
    package var reason: String

    package init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    package var description: String { path.isEmpty ? reason : "\(path): \(reason)" }
}

/// Reads one map of a config document, tracking the key path for errors and refusing keys it
/// was not asked about, so a misspelt key is an error instead of a silent default.
package struct ConfigMap {
    package let path: String
    private let entries: [(key: String, value: ConfigNode)]
    private var seen: Set<String> = []

    package init(_ node: ConfigNode, path: String) throws(ConfigError) {
        self.path = path
        switch node {
        case .map(let entries): self.entries = entries
        case .null: self.entries = []
        default: throw ConfigError(path: path, reason: "expected a map of keys")
        }
    }

    /// The keys present, in document order, for maps keyed by names the config chooses.
    package var keys: [String] { entries.map(\.key) }

    package func child(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    package mutating func node(_ key: String) -> ConfigNode? {
        seen.insert(key)
        guard let value = entries.last(where: { $0.key == key })?.value else { return nil }
        if case .null = value { return nil }
        return value
    }

    package mutating func string(_ key: String) throws(ConfigError) -> String? {
        guard let node = node(key) else { return nil }
        guard case .scalar(let s) = node else { throw ConfigError(path: child(key), reason: "expected a string") }
        return s
    }

    package mutating func bool(_ key: String) throws(ConfigError) -> Bool? {
        guard let s = try string(key) else { return nil }
        switch s.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw ConfigError(path: child(key), reason: "expected true or false, got '\(s)'")
        }
    }

    package mutating func int(_ key: String, in range: ClosedRange<Int>) throws(ConfigError) -> Int? {
        guard let s = try string(key) else { return nil }
        guard let value = Int(s.replacingOccurrences(of: "_", with: "")), range.contains(value) else {
            throw ConfigError(
                path: child(key), reason: "expected a whole number from \(range.lowerBound) to \(range.upperBound), got '\(s)'")
        }
        return value
    }

    /// A size such as `64MiB`, `512KiB`, `1GiB`, `1000` (bytes).
    package mutating func bytes(_ key: String, in range: ClosedRange<Int>) throws(ConfigError) -> Int? {
        guard let s = try string(key) else { return nil }
        guard let value = ConfigMap.parseBytes(s), range.contains(value) else {
            throw ConfigError(
                path: child(key),
                reason: "expected a size such as 64MiB or 65536 between \(range.lowerBound) and \(range.upperBound) bytes, got '\(s)'")
        }
        return value
    }

    /// A duration such as `250ms`, `10s`, `5m`, `1h`.
    package mutating func duration(_ key: String) throws(ConfigError) -> Duration? {
        guard let s = try string(key) else { return nil }
        guard let value = ConfigMap.parseDuration(s) else {
            throw ConfigError(
                path: child(key), reason: "expected a duration up to 100 years such as 250ms, 10s, 5m or 1h, got '\(s)'")
        }
        return value
    }

    package mutating func map(_ key: String) throws(ConfigError) -> ConfigMap? {
        guard let node = node(key) else { return nil }
        return try ConfigMap(node, path: child(key))
    }

    package mutating func list(_ key: String) throws(ConfigError) -> [ConfigNode]? {
        guard let node = node(key) else { return nil }
        guard case .list(let items) = node else { throw ConfigError(path: child(key), reason: "expected a list") }
        return items
    }

    /// Call once every expected key was read: any other key is a mistake.
    package func finish() throws(ConfigError) {
        for entry in entries where !seen.contains(entry.key) {
            throw ConfigError(path: child(entry.key), reason: "unknown key")
        }
    }

    /// The longest duration any setting takes: a hundred years. Longer ones are refused, so no
    /// sum or product of settings can overflow (`1e19s` trapped converting to Int64, and a
    /// SIGHUP reload with it took the running gateway down).
    package static let longestDuration = Duration.seconds(100 * 366 * 86_400)

    package static func parseDuration(_ text: String) -> Duration? {
        let s = text.trimmingCharacters(in: .whitespaces)
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, scale) in units where s.hasSuffix(suffix) {
            let number = s.dropLast(suffix.count)
            if suffix == "s" && number.hasSuffix("m") { continue }
            guard let value = Double(number), value >= 0, value.isFinite else { return nil }
            let milliseconds = (value * scale * 1000).rounded()
            guard milliseconds <= Double(longestDuration.components.seconds) * 1000 else { return nil }
            return .milliseconds(Int64(milliseconds))
        }
        return nil
    }

    package static func parseBytes(_ text: String) -> Int? {
        let s = text.trimmingCharacters(in: .whitespaces)
        let units: [(String, Int)] = [
            ("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("TiB", 1 << 40), ("KB", 1000), ("MB", 1_000_000),
            ("GB", 1_000_000_000), ("TB", 1_000_000_000_000), ("B", 1),
        ]
        for (suffix, scale) in units where s.hasSuffix(suffix) {
            guard let value = Int(s.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)) else { return nil }
            return value.multipliedReportingOverflow(by: scale).overflow ? nil : value * scale
        }
        return Int(s)
    }
}

extension ConfigNode {
    package var scalarValue: String? {
        if case .scalar(let s) = self { return s }
        return nil
    }
}
