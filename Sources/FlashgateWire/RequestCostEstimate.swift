import FlashgateCore

/// What a Gemini request can cost before it is sent: token counts and, with a price table, the
/// amount to reserve against budgets.
///
/// `worstCase` is an upper bound for strict mode. Its arguments:
/// - text: one token per UTF-8 byte (every token covers at least one byte), plus 8 tokens per
///   content and 4 per part for the turn and part markers Gemini adds;
/// - media: the per-part bounds in `RequestCostEstimate+Media.swift`;
/// - the whole input never exceeds the model's context window (1,048,576 tokens for current
///   Gemini models): Gemini refuses larger prompts, so that cap is a bound even where a part
///   has none of its own (video, a `fileData` URI whose size is unknown, `cachedContent`);
/// - output: min(`maxOutputTokens` if asked, the team cap, the model's maximum) per candidate,
///   thinking included, because Gemini counts thoughts inside `maxOutputTokens`;
/// - Google Search grounding: at most `searchQueryBound` queries per request (an assumption:
///   Gemini documents no maximum);
/// - any other built-in tool (URL context, code execution, file search, Maps, computer use, MCP
///   servers, and any kind not known here) adds input the request does not show (retrieved pages
///   and tool results bill as `toolUsePromptTokenCount`), so its input is bounded by the context
///   window alone; only function declarations and search are priced from the body.
///
/// `expected` is estimate mode's reservation: text at 4 bytes a token, the same media
/// estimates, and output at min(cap, `typicalOutputTokens`).
package struct RequestCostEstimate: Sendable, Equatable {
    package var inputTokens: Int
    package var outputTokens: Int
    package var searchQueries: Int
    /// False when a part had no sound bound and the input total stayed below the context cap,
    /// so `inputTokens` is an estimate.
    package var isUpperBound: Bool
    /// The parts of `inputTokens` that are media, priced at their modality's input price.
    package var media = MediaTokens()

    package init(
        inputTokens: Int, outputTokens: Int, searchQueries: Int, isUpperBound: Bool, media: MediaTokens = MediaTokens()
    ) {
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.searchQueries = searchQueries
        self.isUpperBound = isUpperBound
        self.media = media
    }

    package static let contextWindowTokens = 1_048_576
    package static let searchQueryBound = 10
    package static let typicalOutputTokens = 2_048
    /// Tool kinds whose use adds no input beyond the body (declarations the model calls through
    /// the client; search, priced per query). Both spellings.
    static let inputBoundedTools: Set<String> = [
        "functionDeclarations", "function_declarations", "googleSearch", "google_search",
        "googleSearchRetrieval", "google_search_retrieval",
    ]

    /// Whether a `tools` array holds a tool whose use bills input the body does not show.
    static func usesInputAddingTools(_ tools: JSONValue) -> Bool {
        guard case .array(let items) = tools else { return false }
        return items.contains { tool in
            guard case .object(let object) = tool else { return false }
            return object.fields.contains { !$0.value.isNull && !inputBoundedTools.contains($0.key) }
        }
    }

    package init(inputTokens: Int, outputTokens: Int, searchQueries: Int, isUpperBound: Bool) {
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.searchQueries = searchQueries
        self.isUpperBound = isUpperBound
    }

    /// The most output tokens a model can produce per candidate: 65,536 for current Gemini
    /// models, 8,192 for the 1.5 and 2.0 families.
    package static func modelMaxOutputTokens(_ model: String) -> Int {
        if let at = offset(of: "gemini-", in: model) {
            let version = model.utf8.dropFirst(at + 7).prefix(3)
            if version.elementsEqual("1.5".utf8) || version.elementsEqual("2.0".utf8) { return 8_192 }
        }
        return 65_536
    }

    /// Where `needle` (lowercase ASCII) first occurs in `text`, ignoring ASCII case, as a UTF-8
    /// offset. A byte scan of the string's own storage: Foundation's `range(of:)` cost ~7,000
    /// instructions a call, several per admission, and a copy of the bytes ~300 more.
    static func offset(of needle: StaticString, in text: String) -> Int? {
        let pattern = UnsafeRawBufferPointer(start: needle.utf8Start, count: needle.utf8CodeUnitCount)
        var text = text
        return text.withUTF8 { bytes -> Int? in
            guard pattern.count <= bytes.count else { return nil }
            let lower: (UInt8) -> UInt8 = { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }
            outer: for start in 0...(bytes.count - pattern.count) {
                for index in 0..<pattern.count where lower(bytes[start + index]) != pattern[index] { continue outer }
                return start
            }
            return nil
        }
    }

    /// A candidate count as written: a number, or a string holding one (proto3 JSON takes both
    /// for an integer field); past `Int`'s range, the most there can be; below one, one.
    static func count(_ value: JSONValue) -> Int {
        guard let literal = value.integerLiteral else { return 1 }
        if let count = value.protoIntValue { return max(1, count) }
        if Double(literal) != nil, !literal.hasPrefix("-") { return .max }
        return 1
    }

    package static func worstCase(body: JSONValue, model: String, teamOutputCap: Int?) -> RequestCostEstimate {
        estimate(body: body, model: model, teamOutputCap: teamOutputCap, expected: false)
    }

    package static func expected(body: JSONValue, model: String, teamOutputCap: Int?) -> RequestCostEstimate {
        estimate(body: body, model: model, teamOutputCap: teamOutputCap, expected: true)
    }

    /// The cost in micro-dollars at a tier, rounded up; `nil` when the table has no row for the model.
    package func cost(_ prices: PriceTable, model: String, tier: ServiceTier = .standard, atMs: Int64 = .max) -> MicroUSD? {
        prices.cost(
            BillableUsage(
                promptTokens: inputTokens, outputTokens: outputTokens, searchQueries: searchQueries, media: media),
            model: model,
            tier: tier, atMs: atMs)
    }

    private static func estimate(body: JSONValue, model: String, teamOutputCap: Int?, expected: Bool) -> RequestCostEstimate {
        var counter = InputCounter(model: model, expected: expected)
        GeminiSpelling.each(body, "generationConfig", "generation_config") { generation in
            // Named in both spellings, the dearer counts.
            GeminiSpelling.each(generation, "mediaResolution", "media_resolution") {
                guard let level = $0.stringValue ?? $0["level"]?.stringValue else { return }
                counter.defaultResolution = InputCounter.dearer(
                    counter.defaultResolution.isEmpty ? nil : counter.defaultResolution, level.uppercased())
            }
            // A response schema is prompt input Gemini bills: its bytes count like any text.
            for (camel, snake) in [
                ("responseSchema", "response_schema"), ("responseJsonSchema", "response_json_schema"),
                ("_responseJsonSchema", "_response_json_schema"),
            ] {
                GeminiSpelling.each(generation, camel, snake) { counter.text($0) }
            }
        }
        // Gemini reads a field in either spelling (`systemInstruction` or `system_instruction`), so
        // both count: a native body spelled in snake case is bounded like one in camel case.
        for content in body["contents"]?.arrayValue ?? [] { counter.content(content) }
        GeminiSpelling.each(body, "systemInstruction", "system_instruction") { counter.content($0) }
        if let tools = body["tools"] {
            counter.text(tools)
            if Self.usesInputAddingTools(tools) { counter.toolInput() }
        }
        GeminiSpelling.each(body, "toolConfig", "tool_config") { counter.text($0) }
        if GeminiSpelling.has(body, "cachedContent", "cached_content") { counter.unbounded() }
        let input = min(counter.tokens, contextWindowTokens)

        // Each spelling of the generation config and of its fields counts; two at once, the larger.
        var asked: Int?
        var candidates = 1
        GeminiSpelling.each(body, "generationConfig", "generation_config") { generation in
            GeminiSpelling.each(generation, "maxOutputTokens", "max_output_tokens") { asked = max(asked ?? 0, $0.intValue ?? .max) }
            GeminiSpelling.each(generation, "candidateCount", "candidate_count") { candidates = max(candidates, Self.count($0)) }
        }
        let modelMax = modelMaxOutputTokens(model)
        var perCandidate = min(asked ?? modelMax, teamOutputCap ?? modelMax, modelMax)
        if expected { perCandidate = min(perCandidate, typicalOutputTokens) }

        let searching = (body["tools"]?.arrayValue ?? []).contains { tool in
            ["googleSearch", "google_search", "googleSearchRetrieval", "google_search_retrieval"].contains { tool[$0] != nil }
        }
        // A client may write any count: the output is bounded as usage is, never overflowing.
        let (output, overflow) = max(0, perCandidate).multipliedReportingOverflow(by: candidates)
        return RequestCostEstimate(
            inputTokens: input, outputTokens: overflow ? BillableUsage.maxTokens : min(output, BillableUsage.maxTokens),
            searchQueries: searching ? (expected ? 1 : searchQueryBound) : 0,
            isUpperBound: counter.bounded || input >= contextWindowTokens, media: counter.media)
    }
}
