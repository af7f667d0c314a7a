import FlashgateCore
import FlashgateTesting
import Testing

@Suite struct CacheKeyTests {
    static let seeds: [UInt64] = Array(1...200)

    func key(_ body: JSONValue, endpoint: CacheEndpoint = .generate, model: String = "gemini-2.5-flash", scope: String = "team-a")
        -> CacheKey
    {
        CacheKey.make(endpoint: endpoint, model: model, scope: scope, body: body)
    }

    @Test func shufflingKeysNeverChangesTheKey() {
        for seed in Self.seeds {
            var random = RandomJSON(rng: SeededRandom(seed: seed))
            let doc = random.document()
            #expect(key(random.shuffled(doc)) == key(doc), "seed \(seed)")
        }
    }

    @Test func respellingNumbersNeverChangesTheKey() {
        for seed in Self.seeds {
            var random = RandomJSON(rng: SeededRandom(seed: seed))
            let doc = random.document()
            #expect(key(random.respelled(doc)) == key(doc), "seed \(seed): \(JSONWriter.string(random.respelled(doc)))")
        }
    }

    /// Exponents at the edges of `Int`: the literal keeps its own spelling where the canonical
    /// one cannot be worked out, and nothing traps (stripping a trailing zero from `10e` Int.max
    /// had overflowed and taken the gateway down from one number in a request).
    @Test(arguments: [
        "10e9223372036854775807", "1e9223372036854775807", "100E+9223372036854775806", "-10e9223372036854775807",
        "1e-9223372036854775808", "0.1e-9223372036854775808", "10e99999999999999999999",
    ])
    func exponentsAtTheEdgesOfIntNeverTrap(_ literal: String) {
        let spelling = CanonicalNumber.spelling(literal)
        #expect(!spelling.isEmpty)
        #expect(key(["seed": .number(literal)]) != key(["seed": .number("1")]))
    }

    @Test func numberSpellings() {
        let same = ["1", "1.0", "1e0", "10E-1", "0.1e1", "1.000", "100e-2"]
        #expect(Set(same.map(CanonicalNumber.spelling)) == ["1"])
        #expect(CanonicalNumber.spelling("-0") == "0")
        #expect(CanonicalNumber.spelling("-0.0e7") == "0")
        #expect(CanonicalNumber.spelling("0.25") == "0.25")
        #expect(CanonicalNumber.spelling("2.5e-1") == "0.25")
        #expect(CanonicalNumber.spelling("1e300") == "1e300")
        // Integers beyond 2^53 stay exact: these two are one Double but two integers.
        #expect(CanonicalNumber.spelling("9007199254740993") == "9007199254740993")
        #expect(key(["seed": .number("9007199254740993")]) != key(["seed": .number("9007199254740992")]))
    }

    @Test func addingAnElidedDefaultNeverChangesTheKey() throws {
        for seed in Self.seeds {
            var random = RandomJSON(rng: SeededRandom(seed: seed))
            guard case .object(var doc) = random.document() else { continue }
            let before = key(.object(doc))
            let defaults: [(String, JSONValue)] = [
                ("generationConfig", ["candidateCount": .number("1.0"), "stop_sequences": []]),
                ("safetySettings", []), ("tools", []), ("labels", ["team": "x"]),
                ("toolConfig", ["function_calling_config": ["mode": "AUTO"]]), ("cachedContent", .null),
                ("generationConfig", ["thinkingConfig": ["include_thoughts": false]]),
            ]
            let (name, value) = defaults.randomElement(using: &random.rng)!
            doc[name] = value
            #expect(key(random.shuffled(.object(doc))) == before, "seed \(seed) adding \(name)")
        }
    }

    @Test func changingAnyLeafAlwaysChangesTheKey() {
        for seed in Self.seeds {
            var random = RandomJSON(rng: SeededRandom(seed: seed))
            let doc = random.document()
            let path = RandomJSON.leafPaths(doc).randomElement(using: &random.rng)!
            let changed = RandomJSON.changing(doc, at: path[...])
            #expect(key(changed) != key(doc), "seed \(seed) path \(path)")
        }
    }

    @Test func scopeModelAndEndpointAreKeyed() {
        let body: JSONValue = ["contents": [["role": "user", "parts": [["text": "hi"]]]]]
        let keys: Set<CacheKey> = [
            key(body), key(body, scope: "team-b"), key(body, scope: "shared"), key(body, model: "gemini-2.5-pro"),
            key(body, endpoint: .countTokens), key(body, endpoint: .embed),
        ]
        #expect(keys.count == 6)
        #expect(key(body, model: "models/gemini-2.5-flash") == key(body))
        // Length prefixes: moving a byte from the scope to the model is a different key.
        #expect(key(body, model: "ab", scope: "c") != key(body, model: "b", scope: "ca"))
        #expect(key(body).hex.count == 64)
    }

    /// The gateway's inputs are decided in the key builder: aliases (with or without `models/`)
    /// fold into their configured model's id, and the scope is `team:<id>` unless sharing is
    /// configured. The keys are those the gateway made before, pinned by digest.
    @Test func aliasesAndScopeAreDecidedInTheKeyBuilder() {
        let body: JSONValue = ["contents": [["role": "user", "parts": [["text": "hi"]]]]]
        var config = FlashgateConfig.embeddedDefaults(environment: [:])
        var model = ModelConfig(id: "fast", route: config.routes[0].name, upstreamModel: "gemini-2.5-flash")
        model.aliases = ["quick", "gemini-fast"]
        config.models = [model]
        func gateway(_ model: String, team: String = "team-a") -> CacheKey {
            CacheKey.make(endpoint: .generate, model: model, team: team, config: config, body: body)
        }
        let teamA = key(body, model: "fast", scope: "team:team-a")
        #expect(teamA.hex == "e3b5e4d1922603649c80e444e00ed31061b20def36ee35377b83d973ef7f14b9")
        for named in ["fast", "models/fast", "quick", "models/quick", "gemini-fast"] {
            #expect(gateway(named) == teamA, "\(named)")
        }
        #expect(gateway("quick", team: "team-b") == key(body, model: "fast", scope: "team:team-b"))
        #expect(gateway("quick", team: "team-b") != teamA)
        // An id no configured model answers to is keyed as the client named it.
        #expect(gateway("gemini-2.5-pro") == key(body, model: "gemini-2.5-pro", scope: "team:team-a"))
        #expect(gateway("models/gemini-2.5-pro") == gateway("gemini-2.5-pro"))

        config.cache.scope = .shared
        let shared = key(body, model: "fast", scope: "shared")
        #expect(shared.hex == "a670d63cd5dab43d75df2d570a362d635194ce43281af1bed4e8db174a786a16")
        #expect(gateway("quick") == shared && gateway("fast", team: "team-b") == shared)
        #expect(shared != teamA)
    }

    @Test func snakeAndCamelSpellingsShareTheKey() throws {
        let camel = try JSONParser.parse(
            #"{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"systemInstruction":{"parts":[{"text":"be brief"}]},"generationConfig":{"maxOutputTokens":5,"thinkingConfig":{"thinkingLevel":"LOW","includeThoughts":true}},"safetySettings":[{"category":"HARM_CATEGORY_HARASSMENT","threshold":"BLOCK_NONE"}]}"#
        )
        let snake = try JSONParser.parse(
            #"{"generation_config":{"thinking_config":{"include_thoughts":true,"thinking_level":"LOW"},"max_output_tokens":5.0},"system_instruction":{"role":"system","parts":[{"text":"be brief"}]},"safety_settings":[{"threshold":"BLOCK_NONE","category":"HARM_CATEGORY_HARASSMENT"}],"contents":[{"parts":[{"text":"hi"}],"role":"user"}]}"#
        )
        #expect(key(camel) == key(snake))
    }

    @Test func userDataKeysStayVerbatim() throws {
        func call(_ args: String) throws -> JSONValue {
            try JSONParser.parse(
                #"{"contents":[{"role":"model","parts":[{"function_call":{"name":"f","args":"# + args + #"}}]}]}"#)
        }
        #expect(try key(call(#"{"user_id":1,"note":null}"#)) != key(call(#"{"userId":1,"note":null}"#)))
        #expect(try key(call(#"{"user_id":1,"note":null}"#)) != key(call(#"{"user_id":1}"#)))
        #expect(try key(call(#"{"user_id":1,"a":2}"#)) == key(call(#"{"a":2.0,"user_id":1}"#)))
        let canonical = CanonicalJSON.canonical(try call(#"{"user_id":{"first_name":"x"}}"#), endpoint: .generate)
        #expect(JSONWriter.string(canonical).contains(#""args":{"user_id":{"first_name":"x"}}"#))
        #expect(JSONWriter.string(canonical).contains(#""functionCall""#))
    }

    @Test func nonDefaultsAreKept() throws {
        let base: JSONValue = ["contents": [["parts": [["text": "hi"]]]]]
        var withRole = base
        withRole = ["contents": [["role": "user", "parts": [["text": "hi"]]]]]
        #expect(key(base) != key(withRole))  // a missing role is not merged with "user"
        #expect(key(base) != key(["contents": base["contents"]!, "generationConfig": ["candidateCount": 2]]))
        #expect(key(base) != key(["contents": base["contents"]!, "tools": [["googleSearch": [:]]]]))
        #expect(key(base) != key(["contents": base["contents"]!, "generationConfig": ["temperature": 0]]))
    }
}
