import FlashgateCore
import Foundation
import Testing

@testable import FlashgateWire

/// Golden files, one per mapping: `Golden/NAME.json` holds the input (a client request, a
/// Gemini response, or a Gemini SSE transcript) and `Golden/NAME.expected.json` what Flashgate
/// must make of it. `GOLDEN_UPDATE=1 swift test` rewrites the expected files for review.
@Suite struct GoldenTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")

    static var cases: [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".json") && !$0.hasSuffix(".expected.json") }.map { String($0.dropLast(5)) }.sorted()
    }

    @Test(arguments: GoldenTests.cases)
    func golden(_ name: String) throws {
        let input = try JSONParser.parse(Array(try Data(contentsOf: Self.directory.appendingPathComponent("\(name).json"))))
        let actual = try Self.run(input)
        let expectedURL = Self.directory.appendingPathComponent("\(name).expected.json")
        let rendered = Self.pretty(actual) + "\n"
        if ProcessInfo.processInfo.environment["GOLDEN_UPDATE"] == "1" {
            try rendered.write(to: expectedURL, atomically: true, encoding: .utf8)
        }
        let expected = try String(contentsOf: expectedURL, encoding: .utf8)
        #expect(rendered == expected, "golden \(name) differs")
    }

    static func run(_ input: JSONValue) throws -> JSONValue {
        let model = input["model"]?.stringValue ?? "m"
        switch input["kind"]?.stringValue {
        case "request":
            var chat = try ChatRequest.translate(input["client"]!)
            let upstreamModel = input["upstream_model"]?.stringValue ?? chat.model
            chat.applyThinking(upstreamModel: upstreamModel)
            let stored = input["stored"]?.objectValue ?? JSONObject()
            chat.attachSignatures(route: input["route"]?.stringValue ?? "r", upstreamModel: upstreamModel) { id in
                stored[id].map { StoredSignature(route: $0["route"]!.stringValue!, signature: $0["signature"]!.stringValue!) }
            }
            return .object(chat.gemini)
        case "response":
            let rendered = ChatResponse.render(input["gemini"]!, model: model, id: "chatcmpl-req1", created: 1_800_000_000)
            return [
                "openai": rendered.body,
                "kept_signatures": .array(rendered.signatures.map { [.string($0.toolCallID), .string($0.signature)] }),
            ]
        case "stream":
            var translator = ChatStreamTranslator(
                model: model, id: "chatcmpl-req1", created: 1_800_000_000,
                includeUsage: input["include_usage"]?.boolValue ?? false)
            var bytes: [UInt8] = []
            for event in input["gemini_events"]?.arrayValue ?? [] { bytes += translator.translate(event: event) }
            bytes += translator.finish()
            var decoder = SSEDecoder()
            let frames: [JSONValue] = decoder.feed(bytes).map { payload in
                (try? JSONParser.parse(payload)) ?? .string(String(decoding: payload, as: UTF8.self))
            }
            return [
                "openai_frames": .array(frames),
                "kept_signatures": .array(translator.signatures.map { [.string($0.toolCallID), .string($0.signature)] }),
            ]
        default:
            throw FlashgateError.invalid("unknown golden kind")
        }
    }

    /// Sorted keys, two-space indentation: stable and reviewable.
    static func pretty(_ value: JSONValue, indent: String = "") -> String {
        let inner = indent + "  "
        switch value {
        case .array(let items) where !items.isEmpty:
            return "[\n" + items.map { inner + pretty($0, indent: inner) }.joined(separator: ",\n") + "\n\(indent)]"
        case .object(let object) where !object.isEmpty:
            let fields = object.fields.sorted { $0.key < $1.key }
            return "{\n"
                + fields.map { inner + JSONWriter.string(.string($0.key)) + ": " + pretty($0.value, indent: inner) }
                .joined(separator: ",\n") + "\n\(indent)}"
        default:
            return JSONWriter.string(value)
        }
    }
}
