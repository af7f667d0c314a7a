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

    package static func parse(_ text: String, environment: [String: String]) throws -> FlashgateConfig {
        let node: Yams.Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            throw ConfigError(path: "", reason: "the config is not valid YAML: \(error)")
        }
        return try FlashgateConfig.load(node.map(convert) ?? .null, environment: environment)
    }

    static func convert(_ node: Yams.Node) -> ConfigNode {
        switch node {
        case .scalar(let scalar):
            if scalar.style == .plain && ["", "~", "null", "Null", "NULL"].contains(scalar.string) { return .null }
            return .scalar(scalar.string)
        case .sequence(let sequence):
            return .list(sequence.map(convert))
        case .mapping(let mapping):
            return .map(mapping.map { (key: $0.key.string ?? "", value: convert($0.value)) })
        case .alias(let alias):
            return .scalar(alias.anchor.rawValue)
        }
    }
}
