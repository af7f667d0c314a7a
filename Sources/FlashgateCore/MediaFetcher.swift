import Foundation

/// Bytes fetched from a URL a client named, with the type the server declared.
package struct FetchedMedia: Sendable, Equatable {
    /// The response's Content-Type without parameters, lowercased (`image/png`).
    package var mimeType: String
    package var bytes: [UInt8]

    package init(mimeType: String, bytes: [UInt8]) {
        self.mimeType = mimeType
        self.bytes = bytes
    }
}

/// Why a fetch was refused or failed, in words a client can act on. It is always the client's
/// URL at fault from Flashgate's point of view, so callers turn it into a 400 naming the field.
package struct MediaFetchError: Error, Sendable, Equatable, CustomStringConvertible {
    package var reason: String

    package init(_ reason: String) { self.reason = reason }

    package var description: String { reason }
}

/// The port that fetches remote media for the translation. The real adapter checks the URL
/// against `MediaConfig` (scheme, resolved addresses, size, time) before and while fetching;
/// tests inject their own.
package protocol MediaFetcher: Sendable {
    func fetch(_ url: String) async throws(MediaFetchError) -> FetchedMedia
}

/// Media types Flashgate inlines from a fetch; anything else is refused rather than sent to
/// Gemini as an opaque blob.
package enum MediaTypes {
    package static func isInlinable(_ mimeType: String) -> Bool {
        let type = mimeType.lowercased()
        return type.hasPrefix("image/") || type.hasPrefix("video/") || type.hasPrefix("audio/") || type.hasPrefix("text/")
            || type == "application/pdf"
    }

    /// `Image/PNG; charset=x` → `image/png`.
    package static func essence(_ contentType: String) -> String {
        let bare = contentType.split(separator: ";", maxSplits: 1).first.map(String.init) ?? ""
        return bare.trimmingCharacters(in: .whitespaces).lowercased()
    }
}
