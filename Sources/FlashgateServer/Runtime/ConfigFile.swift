import FlashgateCore
import Foundation
import Yams

/// Reads the YAML config file into a `ConfigNode` for validation in Core.
package enum ConfigFile {
    package static func load(path: String, environment: [String: String]) throws -> FlashgateConfig {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(path: "", reason: "cannot read config file \(path)")
        }
        return try parse(text, environment: environment)
    }

    /// The most values (scalars, lists and maps, counted after YAML aliases are expanded) a config
    /// may hold: thousands of keys and routes fit many times over, while a few hundred bytes of
    /// nested aliases (a "billion laughs") that would expand to gigabytes are refused.
    static let maxValues = 250_000
    /// The largest config file read.
    static let maxBytes = 16 << 20

    package static func parse(_ text: String, environment: [String: String]) throws -> FlashgateConfig {
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
        return try FlashgateConfig.load(node.map { try convert($0, budget: &budget) } ?? .null, environment: environment)
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
