import FlashgateCore
import Foundation
import Testing

@testable import FlashgateWire

@Suite struct EmbeddingsRequestTests {
    func translate(_ text: String) throws -> EmbeddingsRequest {
        try EmbeddingsRequest.translate(try JSONParser.parse(text))
    }

    func failure(_ text: String) throws -> FlashgateError? {
        let body = try JSONParser.parse(text)
        do throws(FlashgateError) {
            _ = try EmbeddingsRequest.translate(body)
            return nil
        } catch {
            return error
        }
    }

    @Test func stringInputBecomesOneBatchRequest() throws {
        let request = try translate(#"{"model":"alias","input":"hello","user":"u-1"}"#)
        #expect(request == EmbeddingsRequest(model: "alias", inputs: ["hello"], dimensions: nil, encoding: .float))
        let gemini = JSONValue.object(request.gemini(upstreamModel: "gemini-embedding-001"))
        #expect(
            String(decoding: JSONWriter.encode(gemini), as: UTF8.self)
                == #"{"requests":[{"model":"models/gemini-embedding-001","content":{"parts":[{"text":"hello"}]}}]}"#)
        #expect(gemini["user"] == nil)
    }

    @Test func arrayInputDimensionsAndBase64() throws {
        let request = try translate(#"{"model":"m","input":["a","b"],"dimensions":4,"encoding_format":"base64"}"#)
        #expect(request.inputs == ["a", "b"])
        #expect(request.dimensions == 4)
        #expect(request.encoding == .base64)
        let requests = JSONValue.object(request.gemini(upstreamModel: "m"))["requests"]?.arrayValue ?? []
        #expect(requests.count == 2)
        #expect(requests[1]["content"]?["parts"]?[0]?["text"]?.stringValue == "b")
        #expect(requests.allSatisfy { $0["outputDimensionality"]?.intValue == 4 })
    }

    @Test func nullEncodingFormatMeansFloat() throws {
        #expect(try translate(#"{"model":"m","input":"x","encoding_format":null}"#).encoding == .float)
    }

    @Test(arguments: [
        (#"{"input":"x"}"#, "model", "required"),
        (#"{"model":"m"}"#, "input", "required"),
        (#"{"model":"m","input":""}"#, "input", "empty string"),
        (#"{"model":"m","input":[]}"#, "input", "empty array"),
        (#"{"model":"m","input":["a",""]}"#, "input", "input[1]"),
        (#"{"model":"m","input":[1,2,3]}"#, "input", "token ids is not supported"),
        (#"{"model":"m","input":[[1,2],[3]]}"#, "input", "token ids is not supported"),
        (#"{"model":"m","input":["a",{"text":"b"}]}"#, "input", "only strings"),
        (#"{"model":"m","input":7}"#, "input", "string or an array of strings"),
        (#"{"model":"m","input":"x","dimensions":0}"#, "dimensions", "at least 1"),
        (#"{"model":"m","input":"x","dimensions":"4"}"#, "dimensions", "integer"),
        (#"{"model":"m","input":"x","encoding_format":"int8"}"#, "encoding_format", "\"base64\""),
    ])
    func badInputNamesTheParam(body: String, param: String, words: String) throws {
        let error = try #require(try failure(body))
        #expect(error.httpStatus == 400)
        #expect(error.param == param)
        #expect(error.message.contains(words), "\(error.message)")
    }
}

@Suite struct EmbeddingsResponseTests {
    let gemini = #"{"embeddings":[{"values":[0.125,-2.5e-1,1.5e-3]},{"values":[1,0.30000001192092896,-0.0]}]}"#

    @Test func floatFormKeepsTheUpstreamsNumberText() throws {
        let request = EmbeddingsRequest(model: "client-id", inputs: ["abcde", "xy"])
        let body = try EmbeddingsResponse.render(try JSONParser.parse(gemini), request: request)
        let text = String(decoding: JSONWriter.encode(body), as: UTF8.self)
        #expect(
            text == #"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.125,-2.5e-1,1.5e-3]},"#
                + #"{"object":"embedding","index":1,"embedding":[1,0.30000001192092896,-0.0]}],"model":"client-id","#
                + #""usage":{"prompt_tokens":3,"total_tokens":3}}"#)
    }

    @Test func base64FormIsLittleEndianFloat32() throws {
        let request = EmbeddingsRequest(model: "m", inputs: ["a", "b"], encoding: .base64)
        let body = try EmbeddingsResponse.render(try JSONParser.parse(gemini), request: request)
        let expected: [[Float]] = [[0.125, -0.25, 1.5e-3], [1, 0.30000001192092896, -0.0]]
        for (index, vector) in expected.enumerated() {
            let encoded = try #require(body["data"]?[index]?["embedding"]?.stringValue)
            #expect(Self.decodeFloat32(encoded) == vector)
        }
    }

    @Test func base64OfEveryLengthMatchesFoundation() {
        for length in 0..<10 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 250) }
            #expect(EmbeddingsResponse.base64(bytes) == Data(bytes).base64EncodedString())
        }
    }

    @Test func usageComesFromUpstreamWhenPresent() throws {
        let upstream = #"{"embeddings":[{"values":[1]}],"usageMetadata":{"promptTokenCount":42,"totalTokenCount":42}}"#
        let body = try EmbeddingsResponse.render(try JSONParser.parse(upstream), request: .init(model: "m", inputs: ["x"]))
        #expect(body["usage"]?["prompt_tokens"]?.intValue == 42)
        #expect(body["usage"]?["total_tokens"]?.intValue == 42)
    }

    @Test func estimatedUsageIsCeilingOfBytesOverFourPerInput() {
        // 1 byte → 1, 4 → 1, 5 → 2, "é" (2 bytes) → 1, 9 → 3: 8 in all.
        #expect(EmbeddingsResponse.promptTokens(.null, inputs: ["a", "abcd", "abcde", "é", "123456789"]) == 8)
    }

    @Test func countMismatchOrBadValuesAreProtocolErrors() throws {
        let request = EmbeddingsRequest(model: "m", inputs: ["a", "b"])
        for upstream in [#"{"embeddings":[{"values":[1]}]}"#, #"{}"#, #"{"embeddings":[{"values":[1]},{"values":["x"]}]}"#] {
            #expect(throws: FlashgateError.self) {
                try EmbeddingsResponse.render(try JSONParser.parse(upstream), request: request)
            }
        }
        let base64 = EmbeddingsRequest(model: "m", inputs: ["a"], encoding: .base64)
        let error = #expect(throws: FlashgateError.self) {
            try EmbeddingsResponse.render(try JSONParser.parse(#"{"embeddings":[{"values":[true]}]}"#), request: base64)
        }
        #expect(error?.httpStatus == 502)
    }

    static func decodeFloat32(_ base64: String) -> [Float]? {
        guard let data = Data(base64Encoded: base64), data.count % 4 == 0 else { return nil }
        return stride(from: 0, to: data.count, by: 4).map { offset in
            let bits = data[data.startIndex + offset..<data.startIndex + offset + 4].enumerated()
                .reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) }
            return Float(bitPattern: bits)
        }
    }
}

@Suite struct MockEmbeddingsTests {
    @Test func vectorsAreDeterministicNormalisedAndSized() throws {
        let body = try JSONParser.parse(
            #"{"requests":[{"model":"models/e","content":{"parts":[{"text":"hi"}]}},"#
                + #"{"model":"models/e","content":{"parts":[{"text":"hi"}]},"outputDimensionality":4},"#
                + #"{"content":{"parts":[{"text":"other"}]}}]}"#)
        let answer = try MockModel.batchEmbedContents(model: "e", request: body)
        let vectors = (answer["embeddings"]?.arrayValue ?? []).map { ($0["values"]?.arrayValue ?? []).compactMap(\.doubleValue) }
        #expect(vectors.map(\.count) == [8, 4, 8])
        for vector in vectors {
            #expect(abs(vector.reduce(0) { $0 + $1 * $1 } - 1) < 1e-5)
        }
        #expect(vectors[0] != vectors[2])
        #expect(try MockModel.batchEmbedContents(model: "e", request: body) == answer)
        let single = try MockModel.embedContent(request: try JSONParser.parse(#"{"content":{"parts":[{"text":"hi"}]}}"#))
        #expect(single["embedding"]?["values"] == answer["embeddings"]?[0]?["values"])
    }

    @Test func mismatchedModelOrMissingContentIs400() throws {
        let wrongModel = try JSONParser.parse(#"{"requests":[{"model":"models/other","content":{"parts":[{"text":"x"}]}}]}"#)
        #expect(throws: FlashgateError.self) { try MockModel.batchEmbedContents(model: "e", request: wrongModel) }
        let error = #expect(throws: FlashgateError.self) {
            try MockModel.embedContent(request: try JSONParser.parse(#"{"content":{"parts":[]},"outputDimensionality":0}"#))
        }
        #expect(error?.httpStatus == 400)
        #expect(throws: FlashgateError.self) { try MockModel.embedContent(request: try JSONParser.parse("{}")) }
    }
}
