/// The MIME type of a file named by a path or URL, from its extension, for `gs://` references
/// and bare-base64 file parts. Only types Gemini reads are listed; unknown extensions give nil.
enum MediaTypeGuess {
    static let byExtension: [String: String] = [
        "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp", "gif": "image/gif",
        "heic": "image/heic", "heif": "image/heif",
        "pdf": "application/pdf",
        "mp4": "video/mp4", "mpeg": "video/mpeg", "mpg": "video/mpg", "mov": "video/mov", "avi": "video/avi",
        "flv": "video/x-flv", "webm": "video/webm", "wmv": "video/wmv", "3gp": "video/3gpp",
        "wav": "audio/wav", "mp3": "audio/mp3", "aiff": "audio/aiff", "aac": "audio/aac", "ogg": "audio/ogg",
        "flac": "audio/flac",
        "txt": "text/plain", "md": "text/md", "html": "text/html", "htm": "text/html", "csv": "text/csv",
        "xml": "text/xml", "rtf": "text/rtf",
    ]

    static func fromPath(_ path: String) -> String? {
        var name = Substring(path)
        if let end = name.firstIndex(where: { $0 == "?" || $0 == "#" }) { name = name[..<end] }
        guard let slash = name.lastIndex(of: "/") else { return fromName(name) }
        return fromName(name[name.index(after: slash)...])
    }

    private static func fromName(_ name: Substring) -> String? {
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return nil }
        return byExtension[name[name.index(after: dot)...].lowercased()]
    }
}

/// YouTube video URLs Gemini reads directly as `fileData`: `youtube.com/watch?v=…`,
/// `youtube.com/shorts/…` (www. and m. too) and `youtu.be/…`.
enum YouTubeURL {
    static func matches(_ url: String) -> Bool {
        let lower = url.lowercased()
        guard let schemeEnd = lower.range(of: "://") else { return false }
        let rest = lower[schemeEnd.upperBound...]
        let hostEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        var host = rest[..<hostEnd]
        if let colon = host.firstIndex(of: ":") { host = host[..<colon] }
        let path = rest[hostEnd...]
        switch host {
        case "youtu.be":
            return path.count > 1 && path.hasPrefix("/")
        case "youtube.com", "www.youtube.com", "m.youtube.com":
            if path.hasPrefix("/watch?") || path.hasPrefix("/watch/?") {
                return path.contains("?v=") || path.contains("&v=")
            }
            return path.hasPrefix("/shorts/") && path.count > "/shorts/".count
        default:
            return false
        }
    }
}
