import FlashgateCore
import Testing

/// The two candidate prefixes of a request — base (system instruction, tools, tool config) and
/// extended (plus the leading contents through the first user turn) — their boundary, their keys
/// and the rewrite of a body onto a cache of each.
@Suite struct ContextPrefixTests {
    static let system: JSONValue = ["parts": [["text": "You answer from the document."]]]

    static func turn(_ role: String, _ text: String) -> JSONValue {
        ["role": .string(role), "parts": [["text": .string(text)]]]
    }

    static func body(_ contents: [JSONValue], system: JSONValue? = Self.system) -> JSONValue {
        var object: JSONObject = ["contents": .array(contents), "generationConfig": ["temperature": 0]]
        if let system { object["systemInstruction"] = system }
        return .object(object)
    }

    static func prefixes(_ body: JSONValue, team: String = "search") -> ContextPrefixes? {
        ContextPrefixes(body: body, scope: "team:" + team, model: "gemini-3.5-flash", route: "studio")
    }

    /// A body that names a cache or spells a member the proto way is left as sent: rewritten, it
    /// could carry a cache and `system_instruction` together, which Gemini refuses.
    @Test func aProtoSpelledBodyHasNoPrefix() {
        let contents: [JSONValue] = [Self.turn("user", "doc"), Self.turn("user", "q")]
        #expect(Self.prefixes(Self.body(contents)) != nil)
        for (field, value) in [
            ("cached_content", JSONValue.string("cachedContents/mine")), ("system_instruction", Self.system),
            ("tool_config", ["function_calling_config": ["mode": "AUTO"]]),
        ] {
            guard case .object(var object) = Self.body(contents) else { continue }
            object[field] = value
            #expect(Self.prefixes(.object(object)) == nil, "\(field)")
        }
    }

    @Test func theBoundaryIsTheFirstUserTurnWhenAContentFollowsIt() {
        let user = Self.turn("user", "doc")
        let model = Self.turn("model", "ok")
        #expect(ContextPrefix.leadingBoundary([user]) == nil)
        #expect(ContextPrefix.leadingBoundary([user, Self.turn("user", "q")]) == 1)
        #expect(ContextPrefix.leadingBoundary([user, model, Self.turn("user", "q")]) == 1)
        // A content without a role is a user turn; leading model turns ride along.
        #expect(ContextPrefix.leadingBoundary([["parts": [["text": "doc"]]], model]) == 1)
        #expect(ContextPrefix.leadingBoundary([model, user, model, user]) == 2)
        #expect(ContextPrefix.leadingBoundary([model, model]) == nil)
        #expect(ContextPrefix.leadingBoundary([model, user]) == nil)
        #expect(ContextPrefix.leadingBoundary([]) == nil)
    }

    @Test func aGrowingConversationKeepsOneExtendedPrefixAndConversationsOpeningAlikeShareIt() throws {
        let doc = Self.turn("user", "a long document")
        var turns = [doc]
        // Turn one has no extended prefix: nothing would follow the cached contents.
        #expect(Self.prefixes(Self.body(turns))?.extended == nil)
        turns += [Self.turn("model", "read it"), Self.turn("user", "q1")]
        let second = try #require(Self.prefixes(Self.body(turns))?.extended)
        turns += [Self.turn("model", "a1"), Self.turn("user", "q2")]
        let third = try #require(Self.prefixes(Self.body(turns))?.extended)
        #expect(second.key == third.key && second.leading == 1)
        let other = try #require(Self.prefixes(Self.body([doc, Self.turn("user", "another question")]))?.extended)
        #expect(other.key == second.key)
        // It differs from the base prefix, from another opening, and across teams.
        let base = try #require(Self.prefixes(Self.body(turns))?.base)
        #expect(base.key != second.key && base.leading == 0)
        let opening = try #require(
            Self.prefixes(Self.body([Self.turn("user", "x"), Self.turn("user", "q")]))?.extended)
        #expect(opening.key != second.key)
        let foreign = try #require(Self.prefixes(Self.body(turns), team: "other")?.extended)
        #expect(foreign.key != second.key)
        // Contents alone make an extended prefix; a client-managed cache makes none.
        let bare = try #require(Self.prefixes(Self.body([doc, Self.turn("user", "q")], system: nil)))
        #expect(bare.base == nil && bare.extended != nil)
        var named = try #require(Self.body([doc, Self.turn("user", "q")]).objectValue)
        named["cachedContent"] = "cachedContents/mine"
        #expect(Self.prefixes(.object(named)) == nil)
    }

    @Test func theRewriteDropsWhatTheCacheHoldsAndKeepsTheRestInOrder() throws {
        let contents = [
            Self.turn("user", "doc"), Self.turn("model", "ok"),
            [
                "role": "model",
                "parts": [["functionCall": ["name": "f", "args": [:]], "thoughtSignature": "c2ln"]],
            ],
            Self.turn("user", "q"),
        ]
        let body = Self.body(contents)
        let prefixes = try #require(Self.prefixes(body))
        let extended = try #require(prefixes.extended)
        #expect(extended.parts["contents"] == .array([contents[0]]))
        #expect(extended.parts["systemInstruction"] == Self.system)
        let sent = try #require(extended.rewrite(JSONWriter.encode(body), cacheName: "cachedContents/x"))
        let parsed = try JSONParser.parse(sent)
        #expect(parsed["cachedContent"]?.stringValue == "cachedContents/x")
        #expect(parsed["systemInstruction"] == nil)
        // The rest follows the cache as it was, thought signatures and all.
        #expect(parsed["contents"] == .array(Array(contents.dropFirst())))
        #expect(parsed["generationConfig"] == ["temperature": 0])
        // The base rewrite keeps every content.
        let onBase = try JSONParser.parse(
            try #require(prefixes.base?.rewrite(JSONWriter.encode(body), cacheName: "cachedContents/b")))
        #expect(onBase["contents"] == .array(contents))
        // A route body whose leading contents differ is not rewritten.
        let changed = Self.body([Self.turn("user", "another doc")] + contents.dropFirst())
        #expect(extended.rewrite(JSONWriter.encode(changed), cacheName: "cachedContents/x") == nil)
    }
}
