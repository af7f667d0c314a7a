import Testing

@testable import FlashgateCore

@Suite struct JSONTests {
    @Test func roundTripKeepsOrderAndNumberText() throws {
        let text = #"{"b":1,"a":[true,false,null,1.50,-2e3],"c":{"z":"x","y":"\u00e9\n\"q\""}}"#
        let value = try JSONParser.parse(text)
        #expect(value["b"] == .number("1"))
        #expect(value["a"]?.arrayValue?[3] == .number("1.50"))
        #expect(value["c"]?["y"]?.stringValue == "é\n\"q\"")
        #expect(JSONWriter.string(value) == #"{"b":1,"a":[true,false,null,1.50,-2e3],"c":{"z":"x","y":"é\n\"q\""}}"#)
    }

    @Test func surrogatePairsAndControlCharacters() throws {
        let value = try JSONParser.parse(#"["\ud83d\ude00","\u0001"]"#)
        #expect(value.arrayValue?[0].stringValue == "😀")
        #expect(JSONWriter.string(value) == #"["😀","\u0001"]"#)
    }

    @Test(arguments: [
        "", "{", "[1,]", "{\"a\" 1}", "01", "1.", "tru", "\"abc", "{\"a\":1}x", "[\"\t\"]", "-", "{\"a\":1,}",
    ])
    func rejectsMalformed(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSONParser.parse(text) }
    }

    /// JSON is UTF-8 (RFC 8259 §8.1). A string whose bytes are not (a stray continuation byte,
    /// a truncated sequence, an overlong form, a surrogate, past U+10FFFF) is refused with the
    /// offset of the string, as Google's API refuses it, where it was read with U+FFFD in place:
    /// a prompt that was not what the caller sent, billed and cached as if it were.
    @Test(arguments: [
        [0xFF], [0x80], [0xC3], [0xC0, 0xAF], [0xE0, 0x80, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80],
        [0x61, 0xE2, 0x82],
    ] as [[UInt8]])
    func rejectsStringsThatAreNotUTF8(_ bad: [UInt8]) {
        for (before, after) in [("", ""), ("ok \\n ", ""), ("", " \\u00e9 tail")] {
            let body = Array(#"{"model":"m","text":""#.utf8) + Array(before.utf8) + bad + Array(after.utf8) + Array(#""}"#.utf8)
            #expect(throws: JSONParseError.self, "\(bad) after \(before)") { try JSONParser.parse(body) }
            do {
                _ = try JSONParser.parse(body)
            } catch {
                #expect(error.reason == "invalid UTF-8 in string")
                #expect(error.offset == 20, "the string's opening quote")
            }
        }
        // Valid UTF-8 of every length still reads as itself, escaped or not.
        let fine = try? JSONParser.parse(Array(#"["é€😀","\n é€😀"]"#.utf8))
        #expect(fine?.arrayValue?.map(\.stringValue) == ["é€😀", "\n é€😀"])
    }

    @Test func depthIsBounded() {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: JSONParseError.self) { try JSONParser.parse(deep) }
    }

    @Test func numericAccessors() throws {
        let value = try JSONParser.parse(#"{"i":3,"f":3.0,"e":1e2,"x":3.5}"#)
        #expect(value["i"]?.intValue == 3)
        #expect(value["f"]?.intValue == 3)
        #expect(value["e"]?.intValue == 100)
        #expect(value["x"]?.intValue == nil)
        #expect(value["x"]?.doubleValue == 3.5)
    }

    @Test func objectSubscriptSetAndRemove() {
        var object: JSONObject = ["a": 1, "b": 2]
        object["a"] = nil
        object["c"] = "x"
        object["b"] = 5
        #expect(object.keys == ["b", "c"])
        #expect(object["b"] == JSONValue(5))
    }

    /// Objects inside objects and arrays keep their own fields (they collect on one stack while
    /// parsed); a repeated key keeps its first place and takes the last value, at every depth.
    @Test func nestedObjectsAndRepeatedKeys() throws {
        let parsed = try JSONParser.parse(
            #"{"a":{"a":1,"b":{"a":2},"a":3},"b":[{"a":1,"a":4},{},{"b":[{"c":5}]}],"a":{"z":0},"c":{}}"#)
        let expected: JSONValue = [
            "a": ["z": 0],
            "b": [["a": 4], .object(JSONObject()), ["b": [["c": 5]]]],
            "c": .object(JSONObject()),
        ]
        #expect(parsed == expected)
        #expect(parsed["a"]?.objectValue?.keys == ["z"])
        #expect(try JSONParser.parse(#"{"x":{"a":1,"b":{"a":2},"a":3}}"#)["x"]?.objectValue?.keys == ["a", "b"])
        #expect(try JSONParser.parse(#"{"x":{"a":1,"b":{"a":2},"a":3}}"#)["x"]?["a"] == 3)
    }

}

@Suite struct OutputCapTests {
    func capped(_ text: String, _ cap: Int = 64) throws -> (JSONValue, Bool) {
        guard case .object(var body) = try JSONParser.parse(text) else { throw JSONParseError(reason: "object", offset: 0) }
        let changed = OutputCap.apply(cap, to: &body)
        return (.object(body), changed)
    }

    @Test func writesTheCapWhereTheBodyAsksForMoreOrNothing() throws {
        #expect(try capped(#"{"contents":[]}"#) == (["contents": [], "generationConfig": ["maxOutputTokens": 64]], true))
        #expect(
            try capped(#"{"generationConfig":{"temperature":1,"maxOutputTokens":100}}"#)
                == (["generationConfig": ["temperature": 1, "maxOutputTokens": 64]], true))
        #expect(try capped(#"{"generationConfig":null}"#) == (["generationConfig": ["maxOutputTokens": 64]], true))
        // A limit that is not a whole number is replaced by the cap.
        #expect(try capped(#"{"generationConfig":{"maxOutputTokens":"lots"}}"#).0["generationConfig"]?["maxOutputTokens"] == 64)
    }

    @Test func keepsTheSpellingTheBodyUses() throws {
        #expect(
            try capped(#"{"generation_config":{"max_output_tokens":100}}"#)
                == (["generation_config": ["max_output_tokens": 64]], true))
        #expect(
            try capped(#"{"generation_config":{"temperature":1}}"#)
                == (["generation_config": ["temperature": 1, "maxOutputTokens": 64]], true))
    }

    @Test func leavesABodyAskingForNoMoreUntouched() throws {
        for text in [
            #"{"generationConfig":{"maxOutputTokens":64}}"#, #"{"generationConfig":{"maxOutputTokens":8}}"#,
            #"{"generation_config":{"max_output_tokens":1}}"#, #"{"generationConfig":"not an object"}"#,
        ] {
            let (body, changed) = try capped(text)
            #expect(!changed, "\(text)")
            #expect(body == (try JSONParser.parse(text)), "\(text)")
        }
    }
}

@Suite struct NativeTierCheckTests {
    /// A body naming its tier in both spellings is charged as one and served as the other unless
    /// they agree, so two different tiers are refused.
    @Test func twoSpellingsOfTheTierMustAgree() throws {
        func check(_ text: String) throws { try ServiceTiers.checkNative(try JSONParser.parse(text)) }
        try check(#"{"serviceTier":"flex"}"#)
        try check(#"{"service_tier":"priority"}"#)
        try check(#"{"serviceTier":"flex","service_tier":"FLEX"}"#)
        #expect(throws: FlashgateError.self) { try check(#"{"serviceTier":"flex","service_tier":"priority"}"#) }
        #expect(throws: FlashgateError.self) { try check(#"{"serviceTier":"fast"}"#) }
    }
}
