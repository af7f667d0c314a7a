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
