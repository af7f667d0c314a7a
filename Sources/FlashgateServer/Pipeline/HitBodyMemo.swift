import FlashgateCore
import FlashgateWire

/// OpenAI chat bodies of cache hits, rendered once per stored answer and model instead of on
/// every hit: parsing the stored answer, rendering it and encoding the result cost about 64k
/// instructions, most of a hit's own work. What differs between two hits of one entry is only
/// the completion's `id` and `created`, so the body is kept as a template with those two holes.
///
/// Invariant: a template is kept only when rendering with marker values put each marker in the
/// body exactly once (an id that also shows in tool call ids, or any doubt, renders every time),
/// and only for answers that hand out no thought signatures (those are saved on every render).
/// Filling a template gives the bytes a fresh render would. Bounded: bodies over
/// `maxBodyBytes` are never kept, and past `limit` templates or `byteLimit` bytes in all the memo
/// starts over.
final class HitBodyMemo: Sendable {
    struct Key: Hashable, Sendable {
        var digest: [UInt8]
        /// Distinguishes a replaced entry under the same key.
        var createdAtMs: Int64
        var model: String
    }

    struct Template: Sendable {
        var beforeID: [UInt8]
        var beforeCreated: [UInt8]
        var rest: [UInt8]
    }

    /// Marker values: the id keeps the `chatcmpl-` prefix rendering relies on; neither marker can
    /// come out of an answer's own text (JSON escapes the control characters).
    static let markerID = "chatcmpl-" + markerCore
    /// The part of the id marker that any use of the id (a tool call id made from it) would carry.
    static let markerCore = "\u{1}flashgate-id\u{1}"
    static let markerCreated = -7_777_777_777_777

    private let templates: StartOverTable<Key, Template>
    static let maxBodyBytes = 64 << 10

    init(limit: Int = 512, byteLimit: Int = 8 << 20) {
        templates = StartOverTable(limit: limit, byteLimit: byteLimit)
    }

    /// The body for this hit, when a template is known.
    func body(_ key: Key, id: String, created: Int) -> [UInt8]? {
        guard let template = templates[key] else { return nil }
        var out = template.beforeID
        out.reserveCapacity(template.beforeID.count + template.beforeCreated.count + template.rest.count + 48)
        out += JSONWriter.encode(.string(id))
        out += template.beforeCreated
        out += String(created).utf8
        out += template.rest
        return out
    }

    /// Learns the template of `key` from a body rendered with the marker values; false (and
    /// nothing kept) when a marker is missing or repeated.
    @discardableResult
    func learn(_ key: Key, markedBody: [UInt8]) -> Bool {
        guard markedBody.count <= Self.maxBodyBytes else { return false }
        let id = JSONWriter.encode(.string(Self.markerID))
        let core = Array(JSONWriter.encode(.string(Self.markerCore)).dropFirst().dropLast())
        let created = Array(String(Self.markerCreated).utf8)
        guard Self.onlyOccurrence(of: core, in: markedBody) != nil, let idAt = Self.onlyOccurrence(of: id, in: markedBody),
            let createdAt = Self.onlyOccurrence(of: created, in: markedBody), createdAt > idAt + id.count
        else { return false }
        let template = Template(
            beforeID: Array(markedBody[..<idAt]), beforeCreated: Array(markedBody[(idAt + id.count)..<createdAt]),
            rest: Array(markedBody[(createdAt + created.count)...]))
        templates.set(key, template, bytes: Self.size(template))
        return true
    }

    /// Templates held and their bytes (for tests).
    var count: Int { templates.count }
    var bytes: Int { templates.bytes }

    private static func size(_ template: Template) -> Int {
        template.beforeID.count + template.beforeCreated.count + template.rest.count
    }

    /// The offset of `needle` in `haystack` when it occurs exactly once.
    static func onlyOccurrence(of needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard !needle.isEmpty, needle.count <= haystack.count else { return nil }
        var found: Int?
        var start = 0
        while start <= haystack.count - needle.count {
            if haystack[start] == needle[0], haystack[start..<(start + needle.count)].elementsEqual(needle) {
                if found != nil { return nil }
                found = start
                start += needle.count
            } else {
                start += 1
            }
        }
        return found
    }
}
