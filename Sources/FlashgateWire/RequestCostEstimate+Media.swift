import FlashgateCore
import Foundation

/// Sums input tokens over a request's contents. Each media rule says whether it is a bound:
///
/// - image, Gemini 3 and newer: the `mediaResolution` maximum per image, 1,120 tokens (HIGH, the
///   default), 2,240 when any part asks for ULTRA_HIGH — a bound.
/// - image, older models: 258 tokens per 768×768 tile (one tile when both sides ≤ 384 px), with
///   the size read from a PNG or GIF header — a bound; for other formats, 4 tiles (a 1,536 px
///   square) — an estimate.
/// - audio: 32 tokens per second, the duration bounded from the byte size at 8 kbit/s (1,000
///   bytes a second, the lowest MP3 rate; PCM, FLAC and MP3 never go lower) — a bound, except
///   for Opus/Ogg/AAC/WebM, which can go lower — an estimate.
/// - video: 263 tokens per second at an assumed 64 kbit/s floor — an estimate (no bitrate
///   floor exists); the context window bounds it.
/// - PDF: 258 tokens a page; on Gemini 3 by its media resolution (the part's, else the
///   generation config's): 280 low, 560 medium (the default), 1,120 high, 2,240 ultra high; pages
///   ≤ min(1,000 — Gemini's page limit —, bytes / 40 — a page object takes at least that much) —
///   a bound.
/// - text and other inline data: one token per decoded byte — a bound.
/// - `fileData` (size unknown) and `cachedContent`: no bound but the context window.
struct InputCounter {
    let gemini3: Bool
    let expected: Bool
    var tokens = 0
    var bounded = true
    /// The tokens counted that are audio, images, video, or media of a kind not known.
    var media = MediaTokens()
    /// `generationConfig.mediaResolution`, for media parts that name none of their own.
    var defaultResolution = ""

    init(model: String, expected: Bool) {
        let major = RequestCostEstimate.offset(of: "gemini-", in: model).flatMap { at in
            Int(String(decoding: model.utf8.dropFirst(at + 7).prefix { $0 >= 0x30 && $0 <= 0x39 }, as: UTF8.self))
        } ?? 3
        gemini3 = major >= 3
        self.expected = expected
    }

    mutating func add(_ n: Int) { tokens = tokens > Int.max - n ? Int.max : tokens + n }

    mutating func unbounded() { add(RequestCostEstimate.contextWindowTokens) }

    /// A tool that feeds Gemini input of its own (pages, code results): the context window in
    /// strict mode, a typical page's worth in estimate mode.
    mutating func toolInput() {
        if expected { add(2_000) } else { unbounded() }
    }

    mutating func content(_ content: JSONValue) {
        add(8)
        // Whatever is not a well-formed content counts as text, so the bound holds even for a
        // shape a backend accepts that Gemini would refuse (parts as an object, a content as an
        // array, a long role, members of its own): only well-formed media parts are priced below
        // their bytes. A plain role is covered by the content's marker.
        guard case .object(let object) = content else { return text(content) }
        for field in object.fields where field.key != "parts" {
            if field.key == "role", let role = field.value.stringValue, role.utf8.count <= 16 { continue }
            add(field.key.utf8.count)
            text(field.value)
        }
        guard let parts = object["parts"] else { return }
        guard case .array(let items) = parts else { return text(parts) }
        for part in items {
            add(4)
            count(part: part)
        }
    }

    /// The members of a part Gemini reads as media, in either spelling.
    static let mediaMembers: Set<String> = ["inlineData", "inline_data", "fileData", "file_data"]

    /// One part. Gemini reads a field in either spelling, and a part may carry both (`inlineData`
    /// and `inline_data`, `mimeType` and `mime_type`): each one given is priced, so whichever
    /// Gemini reads is covered.
    private mutating func count(part: JSONValue) {
        guard case .object(let object) = part,
            object.fields.contains(where: { Self.mediaMembers.contains($0.key) })
        else { return text(part) }
        for field in object.fields {
            switch field.key {
            case "inlineData", "inline_data":
                inline(field.value, part: part)
            case "fileData", "file_data":
                file(field.value)
            default:
                // Only the media is priced as media: every other member of the part counts as
                // text, as do members of their own and text beside the image.
                add(field.key.utf8.count)
                text(field.value)
            }
        }
    }

    /// Inline data: priced as media by each mime type it names; anything else counts as text.
    private mutating func inline(_ inline: JSONValue, part: JSONValue) {
        guard let data = inline["data"]?.stringValue else { return text(inline) }
        var mimes: [String] = []
        GeminiSpelling.each(inline, "mimeType", "mime_type") { value in
            if let mime = value.stringValue, !mimes.contains(mime) { mimes.append(mime) }
        }
        for mime in mimes.isEmpty ? [""] : mimes { media(mime: mime, base64: data, part: part) }
        // The mime type counts as text too: a few bytes, or a long string Gemini would refuse.
        for field in inline.objectValue?.fields ?? [] where field.key != "data" {
            add(field.key.utf8.count)
            text(field.value)
        }
    }

    /// A file by URI: its size is unknown.
    private mutating func file(_ file: JSONValue) {
        let before = tokens
        if expected { add(1_000) } else { unbounded() }
        // A file is billed as its kind; a video (sound and frames) or a file of a type not
        // given, at the dearest media price. Two differing mime types: the dearer one.
        var mimes: [String] = []
        GeminiSpelling.each(file, "mimeType", "mime_type") { value in
            mimes.append((value.stringValue ?? "").lowercased())
        }
        let counted = tokens - before
        if mimes.isEmpty || mimes.contains(where: { $0.isEmpty || $0.hasPrefix("video/") }) {
            media.any += counted
        } else if mimes.contains(where: { $0.hasPrefix("audio/") }) {
            media.audio += counted
        } else if mimes.contains(where: { $0.hasPrefix("image/") }) {
            media.image += counted
        }
    }

    /// Bytes of every key, string and number: a token covers at least one byte. Estimate mode
    /// takes four bytes a token.
    mutating func text(_ value: JSONValue) {
        let bytes = Self.textBytes(value)
        add(expected ? (bytes + 3) / 4 : bytes)
    }

    static func textBytes(_ value: JSONValue) -> Int {
        switch value {
        case .null, .bool: 4
        case .number(let n): n.utf8.count
        case .string(let s): s.utf8.count
        case .array(let items): items.reduce(0) { $0 + textBytes($1) }
        case .object(let object): object.fields.reduce(0) { $0 + $1.key.utf8.count + textBytes($1.value) }
        }
    }

    /// The media resolution a part is read at, upper-cased: its own, else the generation config's.
    /// A part that names it in both spellings is read at the dearer.
    func resolutionLevel(_ part: JSONValue) -> String {
        var level: String?
        GeminiSpelling.each(part, "mediaResolution", "media_resolution") { resolution in
            guard let named = resolution["level"]?.stringValue ?? resolution.stringValue else { return }
            level = Self.dearer(level, named.uppercased())
        }
        return level ?? defaultResolution.uppercased()
    }

    /// Of two media resolution levels, the one that costs more tokens a page.
    static func dearer(_ a: String?, _ b: String) -> String {
        guard let a else { return b }
        return pdfPageTokens(b) > pdfPageTokens(a) ? b : a
    }

    /// A PDF page's tokens on Gemini 3 at `level` (`MEDIA_RESOLUTION_…`).
    static func pdfPageTokens(_ level: String) -> Int {
        if level.contains("ULTRA") { return 2_240 }
        if level.contains("HIGH") { return 1_120 }
        if level.contains("LOW") { return 280 }
        return 560
    }

    mutating func media(mime: String, base64: String, part: JSONValue) {
        let padding = base64.utf8.reversed().prefix { $0 == UInt8(ascii: "=") }.count
        let bytes = max(0, (base64.utf8.count + 3) / 4 * 3 - padding)
        let type = mime.lowercased()
        if type.hasPrefix("image/") {
            let before = tokens
            if gemini3 {
                let ultra = resolutionLevel(part).contains("ULTRA")
                add(ultra ? 2_240 : 1_120)
            } else if let size = ImageSize.read(base64: base64) {
                let tiles = size.width <= 384 && size.height <= 384 ? 1 : ((size.width + 767) / 768) * ((size.height + 767) / 768)
                add(258 * tiles)
            } else if expected {
                add(258 * 4)
            } else {
                // Neither a PNG, GIF, JPEG nor WebP whose size can be read: its tiles are unknown,
                // so its bytes count as text, as any part that is not well-formed media does.
                add(base64.utf8.count)
                bounded = false
            }
            media.image += tokens - before
        } else if type.hasPrefix("audio/") {
            add((bytes + 999) / 1_000 * 32)
            media.audio += (bytes + 999) / 1_000 * 32
            if ["opus", "ogg", "aac", "webm"].contains(where: type.contains) { bounded = false }
        } else if type.hasPrefix("video/") {
            add((bytes + 7_999) / 8_000 * 263)
            // Its sound: 32 of each second's tokens; the rest are frames.
            media.audio += (bytes + 7_999) / 8_000 * 32
            media.video += (bytes + 7_999) / 8_000 * 231
            bounded = false
        } else if type == "application/pdf" {
            let pages = min(1_000, max(1, (bytes + 39) / 40))
            add((gemini3 ? Self.pdfPageTokens(resolutionLevel(part)) : 258) * (expected ? max(1, bytes / 50_000) : pages))
        } else {
            add(expected ? (bytes + 3) / 4 : bytes)
        }
    }
}

/// Width and height from the first bytes of a PNG (IHDR) or GIF (logical screen) image.
enum ImageSize {
    /// How much of a JPEG is searched for its frame header (after EXIF and other segments).
    static let jpegSearchBytes = 256 * 1024

    static func read(base64: String) -> (width: Int, height: Int)? {
        guard let head = Data(base64Encoded: String(base64.prefix(40))) else { return nil }
        let b = [UInt8](head)
        if b.count >= 24, b[0] == 0x89, b[1] == 0x50, b[2] == 0x4E, b[3] == 0x47 {
            let w = b[16..<20].reduce(0) { $0 << 8 | Int($1) }
            let h = b[20..<24].reduce(0) { $0 << 8 | Int($1) }
            return (w, h)
        }
        if b.count >= 10, b[0] == 0x47, b[1] == 0x49, b[2] == 0x46 {
            return (Int(b[6]) | Int(b[7]) << 8, Int(b[8]) | Int(b[9]) << 8)
        }
        if b.count >= 30, b[0..<4].elementsEqual("RIFF".utf8), b[8..<12].elementsEqual("WEBP".utf8) {
            return webP(b)
        }
        if b.count >= 3, b[0] == 0xFF, b[1] == 0xD8, b[2] == 0xFF {
            // The frame header can come after large segments: decode a longer prefix (a multiple
            // of four base64 characters).
            let chars = min(base64.utf8.count, jpegSearchBytes / 3 * 4)
            guard let data = Data(base64Encoded: String(base64.prefix(chars - chars % 4))) else { return nil }
            return jpeg([UInt8](data))
        }
        return nil
    }

    /// A WebP's canvas: lossy (`VP8 `), lossless (`VP8L`) or extended (`VP8X`).
    static func webP(_ b: [UInt8]) -> (width: Int, height: Int)? {
        let chunk = String(decoding: b[12..<16], as: UTF8.self)
        switch chunk {
        case "VP8 ":
            guard b[23] == 0x9D, b[24] == 0x01, b[25] == 0x2A else { return nil }
            return ((Int(b[26]) | Int(b[27]) << 8) & 0x3FFF, (Int(b[28]) | Int(b[29]) << 8) & 0x3FFF)
        case "VP8L":
            guard b[20] == 0x2F else { return nil }
            let bits = Int(b[21]) | Int(b[22]) << 8 | Int(b[23]) << 16 | Int(b[24]) << 24
            return ((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
        case "VP8X":
            return (
                (Int(b[24]) | Int(b[25]) << 8 | Int(b[26]) << 16) + 1, (Int(b[27]) | Int(b[28]) << 8 | Int(b[29]) << 16) + 1
            )
        default:
            return nil
        }
    }

    /// A JPEG's size from its first frame header (SOF0…SOF15 but DHT, JPG and DAC), walking the
    /// segments from the start.
    static func jpeg(_ b: [UInt8]) -> (width: Int, height: Int)? {
        var at = 2
        while at + 9 < b.count {
            guard b[at] == 0xFF else { return nil }
            let marker = b[at + 1]
            if marker == 0xFF {
                at += 1
                continue
            }
            let length = Int(b[at + 2]) << 8 | Int(b[at + 3])
            guard length >= 2 else { return nil }
            if (0xC0...0xCF).contains(marker) && marker != 0xC4 && marker != 0xC8 && marker != 0xCC {
                return (Int(b[at + 7]) << 8 | Int(b[at + 8]), Int(b[at + 5]) << 8 | Int(b[at + 6]))
            }
            at += 2 + length
        }
        return nil
    }
}
