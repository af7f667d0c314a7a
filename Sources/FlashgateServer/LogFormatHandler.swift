import FlashgateCore
import Foundation
import Logging

/// A swift-log handler writing one line per event to stderr, as logfmt or JSON. Metadata values
/// are written as given: callers never put prompts or keys in them.
package struct LogFormatHandler: LogHandler {
    package var logLevel: Logger.Level
    package var metadata: Logger.Metadata = [:]
    private let label: String
    private let format: LogConfig.Format
    /// Where lines go; stderr unless a test captures them.
    private let write: @Sendable (String) -> Void

    package init(
        label: String, level: Logger.Level, format: LogConfig.Format,
        write: @escaping @Sendable (String) -> Void = { FileHandle.standardError.write(Data($0.utf8)) }
    ) {
        self.label = label
        self.logLevel = level
        self.format = format
        self.write = write
    }

    package subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    package func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        let time = Date().formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true))
        var line: String
        switch format {
        case .json:
            var object: JSONObject = ["time": .string(time), "level": .string(event.level.rawValue), "msg": .string("\(event.message)")]
            for (key, value) in merged.sorted(by: { $0.key < $1.key }) { object[key] = .string("\(value)") }
            line = JSONWriter.string(.object(object))
        case .logfmt:
            line = "time=\(time) level=\(event.level.rawValue) msg=\(Self.quote("\(event.message)"))"
            for (key, value) in merged.sorted(by: { $0.key < $1.key }) { line += " \(key)=\(Self.quote("\(value)"))" }
        }
        line += "\n"
        write(line)
    }

    static func quote(_ value: String) -> String {
        if !value.isEmpty && !value.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" || $0.isNewline }) {
            return value
        }
        return "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n") + "\""
    }
}
