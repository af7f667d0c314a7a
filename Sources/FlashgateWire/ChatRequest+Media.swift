import FlashgateCore
import Foundation

/// A media part whose bytes Flashgate fetches before the request goes upstream: where it sits
/// in `gemini.contents` and the URL and request field it came from.
package struct PendingMedia: Sendable, Equatable {
    package var contentIndex: Int
    package var partIndex: Int
    package var url: String
    /// The request field it came from, for errors (`messages[0].content[1].image_url.url`).
    package var param: String
}

/// Remote media keeps the translation synchronous: the translator leaves a placeholder part
/// where the media goes, and the gateway fetches every placeholder's URL concurrently and fills
/// them in with `fillMedia` before encoding the body. Invariant: a request with placeholders is
/// never sent upstream; clients cannot create one, since parts are rebuilt from known fields.
extension ChatRequest {
    static let pendingMediaKey = "flashgatePendingMedia"

    /// The placeholders still to fill, in document order.
    package var pendingMedia: [PendingMedia] {
        var pending: [PendingMedia] = []
        for (c, content) in (gemini["contents"]?.arrayValue ?? []).enumerated() {
            for (p, part) in (content["parts"]?.arrayValue ?? []).enumerated() {
                guard let placeholder = part[Self.pendingMediaKey], let url = placeholder["url"]?.stringValue else { continue }
                let param = placeholder["param"]?.stringValue ?? "messages"
                pending.append(PendingMedia(contentIndex: c, partIndex: p, url: url, param: param))
            }
        }
        return pending
    }

    /// Replaces each placeholder with `inlineData` of its fetched bytes, keeping the part's other
    /// fields (`mediaResolution`).
    package mutating func fillMedia(_ fetched: [(PendingMedia, FetchedMedia)]) {
        guard var contents = gemini["contents"]?.arrayValue else { return }
        for (pending, media) in fetched {
            guard var content = contents[pending.contentIndex].objectValue,
                var parts = content["parts"]?.arrayValue, parts.indices.contains(pending.partIndex),
                var rest = parts[pending.partIndex].objectValue
            else { continue }
            rest[Self.pendingMediaKey] = nil
            let inline: JSONValue = [
                "mimeType": .string(media.mimeType), "data": .string(Data(media.bytes).base64EncodedString()),
            ]
            parts[pending.partIndex] = .object(JSONObject([JSONField("inlineData", inline)] + rest.fields))
            content["parts"] = .array(parts)
            contents[pending.contentIndex] = .object(content)
        }
        gemini["contents"] = .array(contents)
    }
}
