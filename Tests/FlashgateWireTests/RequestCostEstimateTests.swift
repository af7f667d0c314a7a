import FlashgateCore
import Foundation
import Testing

@testable import FlashgateWire

@Suite struct RequestCostEstimateTests {
    func body(text: String, generation: JSONObject = [:], tools: [JSONValue] = [], parts extra: [JSONValue] = []) -> JSONValue {
        var body: JSONObject = ["contents": [["role": "user", "parts": .array([["text": .string(text)]] + extra)]]]
        if !generation.isEmpty { body["generationConfig"] = .object(generation) }
        if !tools.isEmpty { body["tools"] = .array(tools) }
        return .object(body)
    }

    @Test func textOfNBytesBoundsInputByNPlusMarkers() {
        let text = String(repeating: "héllo wörld ", count: 100)
        let n = text.utf8.count
        let worst = RequestCostEstimate.worstCase(body: body(text: text), model: "gemini-3.5-flash", teamOutputCap: nil)
        // "text" key (4 bytes) + 8 per content + 4 per part + "role"/"user".
        #expect(worst.inputTokens >= n && worst.inputTokens <= n + 4 + 12 + 8)
        #expect(worst.isUpperBound)
        let expected = RequestCostEstimate.expected(body: body(text: text), model: "gemini-3.5-flash", teamOutputCap: nil)
        #expect(expected.inputTokens < n / 3)
    }

    @Test func outputIsCappedByAskedTeamAndModel() {
        let asked = body(text: "hi", generation: ["maxOutputTokens": 1_000])
        #expect(RequestCostEstimate.worstCase(body: asked, model: "gemini-3.5-flash", teamOutputCap: nil).outputTokens == 1_000)
        #expect(RequestCostEstimate.worstCase(body: asked, model: "gemini-3.5-flash", teamOutputCap: 300).outputTokens == 300)
        let huge = body(text: "hi", generation: ["maxOutputTokens": 1_000_000, "candidateCount": 2])
        #expect(RequestCostEstimate.worstCase(body: huge, model: "gemini-3.5-flash", teamOutputCap: nil).outputTokens == 2 * 65_536)
        #expect(RequestCostEstimate.worstCase(body: body(text: "hi"), model: "gemini-2.0-flash", teamOutputCap: nil).outputTokens == 8_192)
        #expect(RequestCostEstimate.expected(body: body(text: "hi"), model: "gemini-3.5-flash", teamOutputCap: nil).outputTokens == 2_048)
    }

    /// A candidate count past anything Gemini answers (a client can write any integer) bounds
    /// the output at the most a call can bill, where multiplying by it had trapped and taken the
    /// gateway down.
    @Test func anAbsurdCandidateCountIsBoundedNotATrap() {
        for count in [JSONValue(Int.max), JSONValue(1 << 40), .number("99999999999999999999999")] {
            let asked = body(text: "hi", generation: ["candidateCount": count])
            let worst = RequestCostEstimate.worstCase(body: asked, model: "gemini-3.5-flash", teamOutputCap: nil)
            #expect(worst.outputTokens == BillableUsage.maxTokens, "\(count)")
        }
        // proto3 JSON takes an integer field as a string too: "8" is eight candidates.
        let spelled = body(text: "hi", generation: ["candidateCount": "8", "maxOutputTokens": 100])
        #expect(RequestCostEstimate.worstCase(body: spelled, model: "gemini-3.5-flash", teamOutputCap: nil).outputTokens == 800)
        let negative = body(text: "hi", generation: ["candidateCount": JSONValue(-3)])
        #expect(RequestCostEstimate.worstCase(body: negative, model: "gemini-3.5-flash", teamOutputCap: nil).outputTokens == 65_536)
    }

    /// Gemini reads each field in its proto spelling too (`system_instruction`, `file_data`,
    /// `generation_config.candidate_count`, `cached_content`): a native body so spelled is bounded
    /// as the camel-case one is. Before, each of these counted for nothing (or one candidate).
    @Test func protoSpelledFieldsAreBoundedAsTheirJSONSpelling() throws {
        let model = "gemini-3.5-flash"
        func worst(_ text: String) throws -> RequestCostEstimate {
            RequestCostEstimate.worstCase(body: try JSONParser.parse(text), model: model, teamOutputCap: nil)
        }
        let contents = #""contents":[{"role":"user","parts":[{"text":"hi"}]}]"#
        let system = String(repeating: "s", count: 5_000)
        for (camel, snake) in [
            (
                #"{\#(contents),"systemInstruction":{"parts":[{"text":"\#(system)"}]}}"#,
                #"{\#(contents),"system_instruction":{"parts":[{"text":"\#(system)"}]}}"#
            ),
            (
                #"{\#(contents),"toolConfig":{"functionCallingConfig":{"mode":"\#(system)"}}}"#,
                #"{\#(contents),"tool_config":{"function_calling_config":{"mode":"\#(system)"}}}"#
            ),
            (
                #"{"contents":[{"parts":[{"fileData":{"mimeType":"video/mp4","fileUri":"gs://b/long.mp4"}}]}]}"#,
                #"{"contents":[{"parts":[{"file_data":{"mime_type":"video/mp4","file_uri":"gs://b/long.mp4"}}]}]}"#
            ),
            (#"{\#(contents),"cachedContent":"cachedContents/x"}"#, #"{\#(contents),"cached_content":"cachedContents/x"}"#),
        ] {
            let (a, b) = (try worst(camel), try worst(snake))
            #expect(b.inputTokens >= a.inputTokens - 16, "\(snake)")
            #expect(b.inputTokens > 4_000, "\(snake)")
        }
        let candidates = try worst(#"{\#(contents),"generation_config":{"candidate_count":4,"max_output_tokens":100}}"#)
        #expect(candidates.outputTokens == 400)
        // Both spellings at once: the larger ask counts.
        let both = try worst(
            #"{\#(contents),"generationConfig":{"maxOutputTokens":10},"generation_config":{"max_output_tokens":900}}"#)
        #expect(both.outputTokens == 900)
        // An inline image spelled the proto way is priced as an image, not as its base64 text.
        let png = #"{"contents":[{"parts":[{"inline_data":{"mime_type":"image/png","data":"\#(String(repeating: "A", count: 40_000))"}}]}]}"#
        #expect(try worst(png).inputTokens < 2_000)
    }

    /// A content in a shape Gemini refuses still counts every byte it holds as text: a backend
    /// that accepts it (Flashgate's own mock did) cannot charge more than the bound. Before, each of
    /// these counted for a marker or nothing while the mock charged thousands of tokens.
    /// A structured-output schema is prompt input Gemini bills: a 960 KB schema had reserved
    /// nothing and was billed $0.09 against a $0.05 hard budget. Its bytes count in either
    /// spelling of the field.
    @Test func aResponseSchemaCountsAsInput() throws {
        let schema = String(repeating: "s", count: 50_000)
        for field in ["responseJsonSchema", "response_json_schema", "responseSchema", "response_schema"] {
            let worst = RequestCostEstimate.worstCase(
                body: body(text: "hi", generation: [field: ["enum": [.string(schema)]]]), model: "gemini-2.5-flash",
                teamOutputCap: nil)
            #expect(worst.inputTokens >= 50_000, "\(field)")
        }
    }

    /// A Gemini 3 PDF page costs what its media resolution says (280, 560, 1,120 or 2,240
    /// tokens), from the part or the generation config; it had been 560 whatever was asked, half
    /// of what `detail: "high"` bills.
    @Test func aGemini3PDFIsBoundAtItsMediaResolution() throws {
        let pdf = Data(repeating: 0x25, count: 4_000).base64EncodedString()  // 100 pages by size
        func pages(part resolution: String?, config: String?) -> Int {
            var media: JSONObject = ["inlineData": ["mimeType": "application/pdf", "data": .string(pdf)]]
            if let resolution { media["mediaResolution"] = ["level": .string(resolution)] }
            var generation: JSONObject = [:]
            if let config { generation["mediaResolution"] = .string(config) }
            let worst = RequestCostEstimate.worstCase(
                body: body(text: "", generation: generation, parts: [.object(media)]), model: "gemini-3.5-flash",
                teamOutputCap: nil)
            return worst.inputTokens
        }
        let medium = pages(part: nil, config: nil)
        // The part's own `mediaResolution` member counts as text too (its few dozen bytes).
        func near(_ difference: Int, _ pagesAt: Int) -> Bool {
            difference >= 100 * (pagesAt - 560) && difference <= 100 * (pagesAt - 560) + 64
        }
        #expect(near(pages(part: "MEDIA_RESOLUTION_HIGH", config: nil) - medium, 1_120))
        #expect(near(pages(part: nil, config: "MEDIA_RESOLUTION_ULTRA_HIGH") - medium, 2_240))
        #expect(near(pages(part: "MEDIA_RESOLUTION_LOW", config: "MEDIA_RESOLUTION_HIGH") - medium, 280))
    }

    /// Gemini reads a part's fields in either spelling. A part that carries both (`inlineData` and
    /// `inline_data`, `mimeType` and `mime_type`, `mediaResolution` and `media_resolution`,
    /// `inlineData` beside `fileData`) was priced on the first it found: a cheap PDF page beside a
    /// long video, or a small image beside a file of unknown size, reserved for the cheap one.
    @Test func aPartInBothSpellingsIsPricedForWhicheverGeminiReads() throws {
        let model = "gemini-3.5-flash"
        func tokens(_ part: JSONValue) -> Int {
            RequestCostEstimate.worstCase(body: body(text: "", parts: [part]), model: model, teamOutputCap: nil).inputTokens
        }
        func inline(_ mime: String, _ bytes: Int) -> JSONValue {
            ["mimeType": .string(mime), "data": .string(Data(count: bytes).base64EncodedString())]
        }
        // 80,000 bytes of audio: 80 s at the floor rate, 2,560 tokens.
        let audio = tokens(["inline_data": inline("audio/mp3", 80_000)])
        #expect(tokens(["inlineData": inline("text/plain", 4), "inline_data": inline("audio/mp3", 80_000)]) >= audio)
        // The same bytes named two ways: each way is priced.
        let twoTypes: JSONValue = [
            "inlineData": [
                "mimeType": "text/plain", "mime_type": "audio/mp3",
                "data": .string(Data(count: 80_000).base64EncodedString()),
            ]
        ]
        #expect(tokens(twoTypes) >= 2_560)
        // A file beside inline data: the file's size is unknown, so only the context window bounds it.
        let both: JSONValue = ["inlineData": inline("text/plain", 4), "fileData": ["fileUri": "gs://b/v.mp4"]]
        #expect(tokens(both) >= RequestCostEstimate.contextWindowTokens)
        // A PDF page read at the dearer of two resolutions (2,240 tokens, not 280).
        let pdf: JSONValue = [
            "inlineData": inline("application/pdf", 40), "mediaResolution": ["level": "MEDIA_RESOLUTION_LOW"],
            "media_resolution": ["level": "MEDIA_RESOLUTION_ULTRA_HIGH"],
        ]
        #expect(tokens(pdf) >= 2_240)
        let config = RequestCostEstimate.worstCase(
            body: body(
                text: "",
                generation: ["mediaResolution": "MEDIA_RESOLUTION_ULTRA_HIGH", "media_resolution": "MEDIA_RESOLUTION_LOW"],
                parts: [["inlineData": inline("application/pdf", 40)]]),
            model: model, teamOutputCap: nil)
        #expect(config.inputTokens >= 2_240)
    }

    @Test func malformedContentsCountTheirBytes() throws {
        let long = String(repeating: "x", count: 5_000)
        for text in [
            #"{"contents":[{"role":"user","parts":{"nested":[{"text":"\#(long)"}]}}]}"#,
            #"{"contents":[[true,[{"role":"user","parts":[{"text":"\#(long)"}]}]]]}"#,
            #"{"contents":[{"role":"\#(long)","parts":[{"text":"hi"}]}]}"#,
            #"{"contents":[{"role":"user","name":"\#(long)","parts":[{"text":"hi"}]}]}"#,
            #"{"contents":[{"role":"user","parts":[{"inlineData":["\#(long)"]}]}]}"#,
            // A media part whose other members are not what Gemini takes: the image is priced as
            // one, and those members count as text (the hostile-input test found the first).
            #"{"contents":[{"parts":[{"inlineData":{"mimeType":["\#(long)"],"data":"iVBORw0KGgo="}}]}]}"#,
            #"{"contents":[{"parts":[{"inlineData":{"mimeType":"image/png","data":"iVBORw0KGgo=","x":"\#(long)"}}]}]}"#,
            #"{"contents":[{"parts":[{"inlineData":{"mimeType":"\#(long)","data":"iVBORw0KGgo="}}]}]}"#,
            #"{"contents":[{"parts":[{"inlineData":{"mimeType":"image/png","data":"iVBORw0KGgo="},"text":"\#(long)"}]}]}"#,
        ] {
            let worst = RequestCostEstimate.worstCase(
                body: try JSONParser.parse(text), model: "gemini-2.5-flash", teamOutputCap: nil)
            #expect(worst.inputTokens >= 5_000, "\(text.prefix(60))")
        }
    }

    /// A tool that feeds Gemini input the body does not show (URL context's pages, code
    /// execution's results, any kind not known) bounds the input by the context window in strict
    /// mode. Before, only the tool's own JSON counted, and a URL-context call reserved a few bytes
    /// for pages billed at their length.
    @Test func toolsThatAddInputAreBoundedByTheContextWindow() throws {
        func worst(_ tools: String) throws -> RequestCostEstimate {
            let body = try JSONParser.parse(#"{"contents":[{"parts":[{"text":"hi"}]}],"tools":\#(tools)}"#)
            return RequestCostEstimate.worstCase(body: body, model: "gemini-3.5-flash", teamOutputCap: nil)
        }
        let window = RequestCostEstimate.contextWindowTokens
        for tools in [
            #"[{"urlContext":{}}]"#, #"[{"url_context":{}}]"#, #"[{"codeExecution":{}}]"#,
            #"[{"functionDeclarations":[{"name":"f"}]},{"fileSearch":{"fileSearchStoreNames":["s"]}}]"#,
            #"[{"someToolFromNextYear":{}}]"#,
        ] {
            #expect(try worst(tools).inputTokens == window, "\(tools)")
        }
        for tools in [#"[{"functionDeclarations":[{"name":"f"}]}]"#, #"[{"googleSearch":{}},{"google_search_retrieval":{}}]"#] {
            #expect(try worst(tools).inputTokens < 200, "\(tools)")
        }
        let expected = RequestCostEstimate.expected(
            body: try JSONParser.parse(#"{"contents":[{"parts":[{"text":"hi"}]}],"tools":[{"urlContext":{}}]}"#),
            model: "gemini-3.5-flash", teamOutputCap: nil)
        #expect(expected.inputTokens > 2_000 && expected.inputTokens < 2_100)
    }

    @Test func searchGroundingCountsBoundedQueries() {
        let b = body(text: "news", tools: [["googleSearch": [:]]])
        #expect(RequestCostEstimate.worstCase(body: b, model: "gemini-3.5-flash", teamOutputCap: nil).searchQueries == 10)
        #expect(RequestCostEstimate.expected(body: b, model: "gemini-3.5-flash", teamOutputCap: nil).searchQueries == 1)
    }

    @Test func mediaBounds() {
        // A 1,600×800 PNG header: 3×2 tiles of 258 on Gemini 2.5; 1,120 on Gemini 3.
        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]
        png += [0, 0, 0x06, 0x40, 0, 0, 0x03, 0x20] + [UInt8](repeating: 0, count: 40)
        let image: JSONValue = ["inlineData": ["mimeType": "image/png", "data": .string(Data(png).base64EncodedString())]]
        let base = RequestCostEstimate.worstCase(body: body(text: ""), model: "gemini-2.5-flash", teamOutputCap: nil).inputTokens
        let old = RequestCostEstimate.worstCase(body: body(text: "", parts: [image]), model: "gemini-2.5-flash", teamOutputCap: nil)
        // The part's marker, its mime type's bytes as text ("mimeType" and "image/png"), the tiles.
        let mime = "mimeType".utf8.count + "image/png".utf8.count
        #expect(old.inputTokens - base == 4 + mime + 6 * 258)
        let new = RequestCostEstimate.worstCase(body: body(text: "", parts: [image]), model: "gemini-3.5-flash", teamOutputCap: nil)
        #expect(new.inputTokens - base == 4 + mime + 1_120)
        // 10 s of 8 kbit/s MP3 = 10,000 bytes → 320 tokens.
        let audio: JSONValue = ["inlineData": ["mimeType": "audio/mp3", "data": .string(Data(count: 10_000).base64EncodedString())]]
        let a = RequestCostEstimate.worstCase(body: body(text: "", parts: [audio]), model: "gemini-3.5-flash", teamOutputCap: nil)
        #expect(a.inputTokens - base == 4 + mime + 320 && a.isUpperBound)
        // A file by URI has no size: only the context window bounds it.
        let file: JSONValue = ["fileData": ["fileUri": "gs://b/v.mp4"]]
        let f = RequestCostEstimate.worstCase(body: body(text: "", parts: [file]), model: "gemini-3.5-flash", teamOutputCap: nil)
        #expect(f.inputTokens == RequestCostEstimate.contextWindowTokens && f.isUpperBound)
        let video: JSONValue = ["inlineData": ["mimeType": "video/mp4", "data": .string(Data(count: 8_000).base64EncodedString())]]
        #expect(!RequestCostEstimate.worstCase(body: body(text: "", parts: [video]), model: "gemini-3.5-flash", teamOutputCap: nil).isUpperBound)
    }

    /// Gemini 2.5 bills an image by its 768-pixel tiles, so its size is read from the bytes:
    /// PNG and GIF as before, JPEG (its first frame header, after an EXIF segment) and WebP
    /// (lossy, lossless, extended). An image whose size cannot be read counts its bytes as text:
    /// it had been taken as four tiles, below what a large JPEG bills (4,000×3,000 is 24 tiles)
    /// and below what a backend accepting junk as an image charged (the hostile-input test).
    @Test func imageSizesAreReadFromJPEGAndWebPAndUnreadableOnesCountTheirBytes() {
        func tokens(_ bytes: [UInt8], mime: String = "image/jpeg") -> Int {
            let part: JSONValue = ["inlineData": ["mimeType": .string(mime), "data": .string(Data(bytes).base64EncodedString())]]
            let base = RequestCostEstimate.worstCase(body: body(text: ""), model: "gemini-2.5-flash", teamOutputCap: nil).inputTokens
            let mimeBytes = "mimeType".utf8.count + mime.utf8.count
            return RequestCostEstimate.worstCase(body: body(text: "", parts: [part]), model: "gemini-2.5-flash", teamOutputCap: nil)
                .inputTokens - base - 4 - mimeBytes
        }
        // JPEG: SOI, an APP1 (EXIF) segment of 300 bytes, then SOF0 with height 3,000 and width 4,000.
        var jpeg: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE1, 0x01, 0x2E] + [UInt8](repeating: 0x45, count: 300)
        jpeg += [0xFF, 0xC0, 0x00, 0x11, 0x08, 0x0B, 0xB8, 0x0F, 0xA0, 0x03] + [UInt8](repeating: 0, count: 40)
        #expect(tokens(jpeg) == 258 * 6 * 4)
        // A progressive JPEG (SOF2) of 300×200: one tile.
        let small: [UInt8] = [0xFF, 0xD8, 0xFF, 0xC2, 0x00, 0x11, 0x08, 0x00, 0xC8, 0x01, 0x2C, 0x03] + [UInt8](repeating: 0, count: 40)
        #expect(tokens(small) == 258)
        // WebP, lossy: 1,600×800 → 3×2 tiles.
        var vp8 = Array("RIFF".utf8) + [0, 0, 0, 0] + Array("WEBPVP8 ".utf8) + [0, 0, 0, 0]
        vp8 += [0, 0, 0, 0x9D, 0x01, 0x2A, 0x40, 0x06, 0x20, 0x03] + [UInt8](repeating: 0, count: 20)
        #expect(tokens(vp8, mime: "image/webp") == 258 * 6)
        // WebP, lossless: 800×800 (stored as 799) → 2×2 tiles.
        let bits = 799 | 799 << 14
        var vp8l = Array("RIFF".utf8) + [0, 0, 0, 0] + Array("WEBPVP8L".utf8) + [0, 0, 0, 0, 0x2F]
        vp8l += [UInt8(bits & 0xFF), UInt8(bits >> 8 & 0xFF), UInt8(bits >> 16 & 0xFF), UInt8(bits >> 24 & 0xFF)]
        vp8l += [UInt8](repeating: 0, count: 20)
        #expect(tokens(vp8l, mime: "image/webp") == 258 * 4)
        // WebP, extended: 2,000×1,000 (stored less one) → 3×2 tiles.
        var vp8x = Array("RIFF".utf8) + [0, 0, 0, 0] + Array("WEBPVP8X".utf8) + [0, 0, 0, 0, 0, 0, 0, 0]
        vp8x += [0xCF, 0x07, 0x00, 0xE7, 0x03, 0x00] + [UInt8](repeating: 0, count: 20)
        #expect(tokens(vp8x, mime: "image/webp") == 258 * 6)
        // Bytes that are no image Flashgate can size: their base64 counts as text.
        let junk = [UInt8](repeating: 0x78, count: 3_000)
        #expect(tokens(junk, mime: "image/png") == Data(junk).base64EncodedString().utf8.count)
    }

    @Test func costIsPricedAndRoundedUp() {
        let estimate = RequestCostEstimate(inputTokens: 1_000, outputTokens: 1_000, searchQueries: 1, isUpperBound: true)
        // 1,000 × 1.50 + 1,000 × 9.00 per million = 10,500 µ$; 1 query at $14/1,000 = 14,000 µ$.
        #expect(estimate.cost(PriceTable(), model: "gemini-3.5-flash") == MicroUSD(10_500 + 14_000))
        // At the priority tier a reservation is 1.8× as large: 2.70 + 16.20 per million tokens.
        #expect(estimate.cost(PriceTable(), model: "gemini-3.5-flash", tier: .priority) == MicroUSD(18_900 + 14_000))
        let one = RequestCostEstimate(inputTokens: 1, outputTokens: 0, searchQueries: 0, isUpperBound: true)
        #expect(one.cost(PriceTable(), model: "gemini-3.5-flash") == MicroUSD(2))
        #expect(estimate.cost(PriceTable(), model: "gemini-9") == nil)
    }

    @Test func theModelFamilyIsReadFromTheIdWhateverItsCaseAndPrefix() {
        for (model, limit) in [
            ("gemini-1.5-pro", 8_192), ("models/gemini-2.0-flash-001", 8_192), ("GEMINI-2.0-FLASH", 8_192),
            ("gemini-2.5-flash", 65_536), ("gemini-3-pro-preview", 65_536), ("gemini-1", 65_536), ("", 65_536),
            ("tunedModels/my-gemini-1.5-x", 8_192), ("gemini-", 65_536),
        ] {
            #expect(RequestCostEstimate.modelMaxOutputTokens(model) == limit, "\(model)")
        }
        #expect(RequestCostEstimate.offset(of: "gemini-", in: "models/Gemini-3") == 7)
        #expect(RequestCostEstimate.offset(of: "gemini-", in: "gemin") == nil)
    }
}
