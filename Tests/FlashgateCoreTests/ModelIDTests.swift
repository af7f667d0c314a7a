import FlashgateCore
import FlashgateTesting
import Foundation
import Testing

/// The model-id grammar: real Gemini and Vertex ids pass, anything that could change an upstream
/// URL is refused with a 400 naming `model`, and no accepted id ever changes a URL's path.
@Suite struct ModelIDTests {
    @Test(arguments: [
        "gemini-2.5-flash", "gemini-3.1-pro-preview", "gemini-2.5-flash-preview-09-2025", "text-embedding-004",
        "gemini-embedding-001", "gemini-1.5-flash-8b", "gemma-3-27b-it", "aqa",
        "imagen-4.0-ultra-generate-preview-06-06",
        "textembedding-gecko@003", "gemini-2.0-flash-001",
    ])
    func realIdsAreAccepted(_ id: String) throws {
        let model = try ModelID(validating: id)
        #expect(model.kind == .base && model.name == id && model.description == id)
        #expect(model.resourceName == "models/" + id)
        let prefixed = try ModelID(validating: "models/" + id)
        #expect(prefixed == model)
    }

    /// `bare` drops exactly one leading `models/` and leaves every other string as it is.
    @Test func bareDropsOneModelsPrefix() {
        #expect(ModelID.bare("models/gemini-2.5-flash") == "gemini-2.5-flash")
        #expect(ModelID.bare("gemini-2.5-flash") == "gemini-2.5-flash")
        #expect(ModelID.bare("models/models/gemini") == "models/gemini")
        #expect(ModelID.bare("models/") == "")
        #expect(ModelID.bare("") == "")
        #expect(ModelID.bare("tunedModels/my-model") == "tunedModels/my-model")
        #expect(ModelID.bare("Models/gemini") == "Models/gemini")
        #expect(ModelID.bare("xmodels/gemini") == "xmodels/gemini")
        // A parsed base model's id is the bare form of what the client sent, with or without prefix.
        for text in ["gemini-2.5-flash", "models/gemini-2.5-flash", "models/textembedding-gecko@003"] {
            #expect(try! ModelID(validating: text).description == ModelID.bare(text))
        }
    }

    @Test func tunedModelsKeepTheirCollection() throws {
        let tuned = try ModelID(validating: "tunedModels/sentence-translation-u3b7m")
        #expect(tuned.kind == .tuned && tuned.name == "sentence-translation-u3b7m")
        #expect(tuned.description == "tunedModels/sentence-translation-u3b7m")
        #expect(tuned.path(method: "generateContent") == "tunedModels/sentence-translation-u3b7m:generateContent")
        #expect(!ModelID.isValid("tunedModels/1abc"))  // starts with a letter
        #expect(!ModelID.isValid("tunedModels/abc-"))
        #expect(!ModelID.isValid("tunedModels/" + String(repeating: "a", count: 41)))
        #expect(ModelID.isValid("tunedModels/" + String(repeating: "a", count: 40)))
        #expect(!ModelID.isValid("tunedModels/a.b"))
    }

    @Test(arguments: [
        "", "models/", "tunedModels/", "gemini-2.5-flash/../gemini-2.5-pro:generateContent#", "x/../../cachedContents#",
        "..", ".", "-flash", "flash-", "gemini--flash", "gemini-2..5", "Gemini-2.5-Flash", "gemini 2.5", "gemini\n",
        "gemini%2F", "gemini?alt=json", "gemini#x", "gemini:generateContent", "publishers/google/models/gemini",
        "gemini@", "gemini@0@1", "gemini@v-1", "gemini\u{0}", "gémini", "models/models/gemini",
        String(repeating: "a", count: 129),
    ])
    func malformedIdsAreRefusedNamingTheModelField(_ id: String) {
        #expect(throws: FlashgateError.self) { try ModelID(validating: id) }
        do {
            _ = try ModelID(validating: id)
        } catch {
            #expect(error.httpStatus == 400 && error.param == "model")
            #expect(error.message.contains("not valid"))
        }
    }

    @Test func theMessageNamesTheProblem() {
        func message(_ id: String) -> String {
            do {
                _ = try ModelID(validating: id)
                return ""
            } catch { return error.message }
        }
        #expect(message("a/b").contains("contains '/'"))
        #expect(message("Gemini").contains("lowercase"))
        #expect(message("").contains("names no model"))
        #expect(message(String(repeating: "a", count: 300)).count < 300)  // a long id is not echoed whole
    }

    @Test func percentEncodingKeepsOnlyUnreservedCharacters() {
        #expect(ModelID.percentEncoded("gemini-2.5_flash~x@1") == "gemini-2.5_flash~x@1")
        #expect(ModelID.percentEncoded("a/b?c#d%e f:g") == "a%2Fb%3Fc%23d%25e%20f%3Ag")
        #expect(ModelID.percentEncoded("é") == "%C3%A9")
    }

    /// A string of a random length in `lengths`, each character drawn from `alphabet`.
    static func randomText(_ alphabet: [Character], lengths: ClosedRange<Int>, _ random: inout SeededRandom) -> String {
        let length = Int.random(in: lengths, using: &random)
        return String((0..<length).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &random)] })
    }

    /// The one-pass check for the usual base name agrees with the full base-name grammar: it takes
    /// nothing the grammar refuses, and it takes every name the grammar accepts that has no `@`
    /// version.
    @Test func thePlainBaseShortcutAgreesWithTheGrammar() {
        let alphabet = Array("abz09-.@A _é")
        var random = SeededRandom(seed: 5)
        var plain = 0
        for _ in 0..<50_000 {
            let text = Self.randomText(alphabet, lengths: 0...12, &random)
            let valid = ModelID.fullBaseProblem(text) == nil
            let shortcut = ModelID.isPlainBase(text)
            if shortcut { plain += 1 }
            #expect(!shortcut || valid, "\(text)")
            #expect(shortcut || !valid || text.contains("@"), "\(text)")
        }
        #expect(plain > 1_000)
        #expect(ModelID.isPlainBase("gemini-2.5-flash"))
        #expect(!ModelID.isPlainBase(String(repeating: "a", count: ModelID.maxBaseLength + 1)))
        #expect(ModelID.isPlainBase(String(repeating: "a", count: ModelID.maxBaseLength)))
    }

    /// Random strings over an alphabet rich in URL syntax: an accepted one always yields a URL
    /// whose path is the template's, with no query or fragment, and most are refused.
    @Test func randomStringsNeverChangeTheTemplatePath() throws {
        let alphabet = Array("abz09-._/:?#%@&= A\\\u{7f}\té~")
        var random = SeededRandom(seed: 42)
        var accepted = 0
        for round in 0..<20_000 {
            var text = Self.randomText(alphabet, lengths: 0...20, &random)
            if round % 4 == 0 { text = "models/" + text }
            guard let id = try? ModelID(validating: text) else { continue }
            accepted += 1
            let url = try #require(URLComponents(string: "https://h/v1beta/" + id.path(method: "generateContent")))
            #expect(url.path == "/v1beta/models/\(id.name):generateContent", "\(text)")
            #expect(url.query == nil && url.fragment == nil, "\(text)")
            #expect(!id.name.contains("/") && !id.name.contains(".."), "\(text)")
        }
        #expect(accepted > 100)
    }
}

/// The config holds its model ids to the same grammar: a client-facing id, an alias or a Google
/// upstream name that no client could reach, or that would break a URL, is refused at load.
@Suite struct ModelIDConfigTests {
    static func node(_ entries: [(String, ConfigNode)]) -> ConfigNode { .map(entries.map { (key: $0.0, value: $0.1) }) }

    static func load(_ route: [(String, ConfigNode)], _ model: [(String, ConfigNode)]) throws -> FlashgateConfig {
        try FlashgateConfig.load(
            node([("routes", .list([node(route)])), ("models", .list([node(model)]))]), environment: ["K": "k"]
        ) { _ in "" }
    }

    static let studio: [(String, ConfigNode)] = [
        ("name", .scalar("a")), ("kind", .scalar("gemini")), ("api_key_env", .scalar("K")),
    ]
    static let backup: [(String, ConfigNode)] = [
        ("name", .scalar("a")), ("kind", .scalar("openai")), ("base_url", .scalar("https://example.com/v1")),
    ]

    static let malformed: [(String, [(String, ConfigNode)])] = [
        ("models[0].id", [("id", .scalar("Flash/..")), ("route", .scalar("a"))]),
        (
            "models[0].aliases[0]",
            [("id", .scalar("flash")), ("route", .scalar("a")), ("aliases", .list([.scalar("a#b")]))]
        ),
        (
            "models[0].upstream_model",
            [("id", .scalar("flash")), ("route", .scalar("a")), ("upstream_model", .scalar("x/../y"))]
        ),
        (
            "models[0].routes[0].upstream_model",
            [
                ("id", .scalar("flash")),
                ("routes", .list([node([("route", .scalar("a")), ("upstream_model", .scalar("x?y"))])])),
            ]
        ),
    ]

    @Test(arguments: malformed)
    func aMalformedIdIsRefusedAtItsKeyPath(_ path: String, _ model: [(String, ConfigNode)]) {
        do {
            _ = try Self.load(Self.studio, model)
            Issue.record("loaded")
        } catch let error as ConfigError {
            #expect(error.path == path)
            #expect(error.reason.contains("not valid"))
        } catch {
            Issue.record("\(error)")
        }
    }

    @Test func anOpenAIRouteKeepsItsBackendsOwnModelName() throws {
        let config = try Self.load(
            Self.backup,
            [("id", .scalar("flash")), ("route", .scalar("a")), ("upstream_model", .scalar("google/Gemini-2.5-Flash"))])
        #expect(config.models[0].routes[0].upstreamModel == "google/Gemini-2.5-Flash")
    }
}
