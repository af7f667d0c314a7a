import FlashgateCore
import Foundation
import Yams

/// Reads the YAML config file into a `ConfigNode` for validation in Core.
package enum ConfigFile {
    /// Whether the secrets a config names must be there: `serve` and `check` need them; the
    /// store tools (`ledger`, `usage`, `cache`) read only where the store is and how it is kept,
    /// so on a host without the upstream or admin key they take a placeholder for each.
    package enum Secrets: Sendable {
        case required
        case notNeeded
    }

    package static func load(
        path: String, environment: [String: String], secrets: Secrets = .required
    ) throws -> FlashgateConfig {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(path: "", reason: "cannot read config file \(path)")
        }
        return try parse(text, environment: environment, secrets: secrets)
    }

    /// The most values (scalars, lists and maps, counted after YAML aliases are expanded) a config
    /// may hold: thousands of keys and routes fit many times over, while a few hundred bytes of
    /// nested aliases (a "billion laughs") that would expand to gigabytes are refused.
    static let maxValues = 250_000
    /// The largest config file read.
    static let maxBytes = 16 << 20

    package static func parse(
        _ text: String, environment: [String: String], secrets: Secrets = .required
    ) throws -> FlashgateConfig {
        guard text.utf8.count <= maxBytes else {
            throw ConfigError(path: "", reason: "the config file is larger than \(maxBytes >> 20) MiB")
        }
        let node: Yams.Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            throw ConfigError(path: "", reason: "the config is not valid YAML: \(error)")
        }
        var budget = maxValues
        let root = try node.map { try convert($0, budget: &budget) } ?? .null
        switch secrets {
        case .required:
            return try FlashgateConfig.load(root, environment: environment)
        case .notNeeded:
            var filled = environment
            // Distinct placeholders: a route refuses the same key twice.
            for name in Self.variablesNamed(in: root) where filled[name] == nil { filled[name] = "unused-env-\(name)" }
            return try FlashgateConfig.load(root, environment: filled, readFile: { "unused-file-\($0)" })
        }
    }

    /// Every environment variable the config names for a secret: the value of each `…_env` key,
    /// or each item of a list under one.
    static func variablesNamed(in node: ConfigNode) -> [String] {
        switch node {
        case .null, .scalar: return []
        case .list(let items): return items.flatMap(variablesNamed)
        case .map(let pairs):
            return pairs.flatMap { pair -> [String] in
                guard pair.key.hasSuffix("_env") else { return variablesNamed(in: pair.value) }
                switch pair.value {
                case .scalar(let name): return [name]
                case .list(let items): return items.compactMap(\.scalarValue)
                default: return []
                }
            }
        }
    }

    private static func convert(_ node: Yams.Node, budget: inout Int) throws(ConfigError) -> ConfigNode {
        budget -= 1
        guard budget >= 0 else {
            throw ConfigError(
                path: "",
                reason: "the config holds more than \(maxValues) values once its YAML aliases are expanded")
        }
        switch node {
        case .scalar(let scalar):
            if scalar.style == .plain && ["", "~", "null", "Null", "NULL"].contains(scalar.string) { return .null }
            return .scalar(scalar.string)
        case .sequence(let sequence):
            var items: [ConfigNode] = []
            for item in sequence { items.append(try convert(item, budget: &budget)) }
            return .list(items)
        case .mapping(let mapping):
            var pairs: [(key: String, value: ConfigNode)] = []
            for pair in mapping { pairs.append((key: pair.key.string ?? "", value: try convert(pair.value, budget: &budget))) }
            return .map(pairs)
        case .alias(let alias):
            return .scalar(alias.anchor.rawValue)
        }
    }
}
