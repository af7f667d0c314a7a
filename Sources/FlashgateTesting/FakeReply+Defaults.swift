/// What FakeGemini answers when a test scripted nothing: a plausible Gemini reply for each
/// endpoint, so tests of other layers need no setup. Texts and token counts are fixed:
/// "Hello" + " from" + " FakeGemini", 5 prompt + 3 candidate = 8 tokens.
extension FakeReply {
    package static let defaultPieces = ["Hello", " from", " FakeGemini"]
    /// The vector of every default embedding; `1.5e-3` shows whether a float answer keeps the
    /// upstream's literal number text.
    package static let defaultEmbedding = "[0.125,-0.25,0.5,1.5e-3]"
    package static let defaultUsage = #"{"promptTokenCount":5,"candidatesTokenCount":3,"totalTokenCount":8}"#

    package static func defaultReply(for request: FakeRequest) -> FakeReply {
        let path = request.path
        let model = modelName(in: path)
        if path.hasSuffix(":streamGenerateContent") {
            let events = defaultStreamEvents(model: model)
            if request.queryItem("alt") == "sse" { return .sse(events) }
            let pieces = events.enumerated().map { index, event in
                (index == 0 ? "[" : ",\r\n") + event + (index == events.count - 1 ? "]" : "")
            }
            return FakeReply(
                headers: [("Content-Type", "application/json; charset=UTF-8")], chunks: pieces.map { Array($0.utf8) })
        }
        if path.hasSuffix(":generateContent") {
            return .json(
                #"{"candidates":[{"content":{"role":"model","parts":[{"text":"Hello from FakeGemini"}]},"#
                    + #""finishReason":"STOP","index":0}],"usageMetadata":\#(defaultUsage),"#
                    + #""modelVersion":"\#(model)","responseId":"fake-response-1"}"#)
        }
        if path.hasSuffix(":countTokens") { return .json(#"{"totalTokens":5}"#) }
        if path.hasSuffix(":embedContent") { return .json(#"{"embedding":{"values":\#(defaultEmbedding)}}"#) }
        if path.hasSuffix(":batchEmbedContents") {
            // One fixed vector per request in the body (at least one).
            let count = max(1, request.bodyJSON?["requests"]?.arrayValue?.count ?? 1)
            let items = Array(repeating: #"{"values":\#(defaultEmbedding)}"#, count: count)
            return .json(#"{"embeddings":["# + items.joined(separator: ",") + "]}")
        }
        if request.method == "GET", path.hasSuffix("/models") {
            return .json(#"{"models":[\#(modelEntry(1)),\#(modelEntry(2))]}"#)
        }
        return .googleError(
            status: 404, message: "Method not found: \(request.method) \(path)", googleStatus: "NOT_FOUND")
    }

    /// The three SSE event bodies of the default stream; the last carries finishReason and usage.
    package static func defaultStreamEvents(model: String = "gemini-fake-1") -> [String] {
        defaultPieces.enumerated().map { index, text in
            let last = index == defaultPieces.count - 1
            let finish = last ? #","finishReason":"STOP""# : ""
            let usage = last ? #","usageMetadata":\#(defaultUsage)"# : ""
            return #"{"candidates":[{"content":{"role":"model","parts":[{"text":"\#(text)"}]}\#(finish),"index":0}]"#
                + #"\#(usage),"modelVersion":"\#(model)","responseId":"fake-response-1"}"#
        }
    }

    private static func modelName(in path: String) -> String {
        guard let start = path.range(of: "/models/") else { return "gemini-fake-1" }
        let rest = path[start.upperBound...]
        return String(rest.prefix(while: { $0 != ":" && $0 != "/" }))
    }

    private static func modelEntry(_ n: Int) -> String {
        #"{"name":"models/gemini-fake-\#(n)","version":"001","displayName":"Gemini Fake \#(n)","#
            + #""inputTokenLimit":1048576,"outputTokenLimit":65536,"#
            + #""supportedGenerationMethods":["generateContent","streamGenerateContent","countTokens"]}"#
    }
}
