#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Which route issued a thought signature, whatever dialect carried it. Gemini 3 binds a
/// signature to the endpoint that issued it: sent to another route it fails with "Corrupted
/// thought signature". Flashgate remembers each signature it served (by a hash, per team, in the
/// `SignatureStore`), and before a call goes to a route replaces every signature another route
/// issued with Gemini's documented `skip_thought_signature_validator` value.
package enum SignatureOrigins {
    /// Base64 of `skip_thought_signature_validator`, the value Gemini accepts in place of a
    /// signature it did not issue.
    package static let skipSignature = "c2tpcF90aG91Z2h0X3NpZ25hdHVyZV92YWxpZGF0b3I="

    /// Who issued a signature: the route and the upstream model (Gemini binds a signature to
    /// both: replayed on another model of the same route it is refused as corrupted too). Kept
    /// where the route alone was, as `route` U+001F `model`.
    package static func origin(route: String, model: String) -> String { route + "\u{1F}" + model }

    /// Whether a signature issued by `origin` may go to `model` on `route`. An origin kept
    /// before models were recorded (a route name alone) is judged by its route.
    package static func matches(_ origin: String, route: String, model: String) -> Bool {
        guard let separator = origin.utf8.firstIndex(of: 0x1F) else { return origin == route }
        return origin.utf8[..<separator].elementsEqual(route.utf8)
            && origin.utf8[origin.utf8.index(after: separator)...].elementsEqual(model.utf8)
    }

    /// The store key of a signature: `sig:` and the SHA-256 of its text (signatures are long).
    package static func key(_ signature: String) -> String { "sig:" + VirtualKey.hashHex(signature) }

    /// Every `thoughtSignature` in a Gemini answer's candidates (the skip value excluded).
    package static func signatures(inAnswer answer: JSONValue) -> [String] {
        var found: [String] = []
        for candidate in answer["candidates"]?.arrayValue ?? [] {
            for part in candidate["content"]?["parts"]?.arrayValue ?? [] {
                if let signature = part["thoughtSignature"]?.stringValue, signature != skipSignature {
                    found.append(signature)
                }
            }
        }
        return found
    }

    /// A Gemini request body with every signature `foreign` says came from another route replaced
    /// by the skip value. The bytes are returned untouched when nothing changes.
    package static func rewrite(_ body: [UInt8], foreign: (String) -> Bool) -> [UInt8] {
        guard containsSignature(body), let parsed = try? JSONParser.parse(body), var object = parsed.objectValue,
            var contents = object["contents"]?.arrayValue
        else { return body }
        var changed = false
        for c in contents.indices {
            guard case .object(var content) = contents[c], case .array(var parts)? = content["parts"] else { continue }
            var partsChanged = false
            for p in parts.indices {
                guard case .object(var part) = parts[p] else { continue }
                // Gemini reads the proto spelling as well (a signature sent as `thought_signature`
                // had gone to the other route as it was).
                for name in ["thoughtSignature", "thought_signature"] {
                    guard let signature = part[name]?.stringValue, signature != skipSignature, foreign(signature)
                    else { continue }
                    part[name] = .string(skipSignature)
                    parts[p] = .object(part)
                    partsChanged = true
                }
            }
            if partsChanged {
                content["parts"] = .array(parts)
                contents[c] = .object(content)
                changed = true
            }
        }
        guard changed else { return body }
        object["contents"] = .array(contents)
        return JSONWriter.encode(.object(object))
    }

    private static let stem = Array("thought".utf8)
    /// What follows `thought` in either of Gemini's spellings of the field.
    private static let tails = [Array("Signature".utf8), Array("_signature".utf8)]

    /// A quick scan (libc's vectorised `memchr` for the first byte, then a compare), so bodies
    /// without signatures are never parsed: native bodies can be megabytes of base64 media, and
    /// every attempt passes through here. One pass finds either spelling.
    private static func containsSignature(_ body: [UInt8]) -> Bool {
        body.withUnsafeBytes { bytes in
            guard let base = bytes.baseAddress, bytes.count >= stem.count + tails[0].count else { return false }
            var offset = 0
            let last = bytes.count - stem.count
            while offset <= last {
                guard let hit = memchr(base + offset, Int32(stem[0]), last - offset + 1) else { return false }
                let at = base.distance(to: UnsafeRawPointer(hit))
                if memcmp(base + at, stem, stem.count) == 0 {
                    let rest = at + stem.count
                    for tail in tails where rest + tail.count <= bytes.count {
                        if memcmp(base + rest, tail, tail.count) == 0 { return true }
                    }
                }
                offset = at + 1
            }
            return false
        }
    }
}
