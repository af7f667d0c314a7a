import FlashgateCore
import FlashgateTesting

/// Random JSON documents for the cache-key property tests, and the edits the properties apply
/// to them (shuffle, re-spell numbers, change one leaf). Keys are camelCase names that are none
/// of the Gemini fields with defaults or user-data meaning, so the edits stay meaning-preserving
/// (or meaning-changing) as each property needs.
struct RandomJSON {
    var rng: SeededRandom

    static let words = ["alpha", "beta", "gamma", "delta", "omega", "kappa", "sigma", "zeta", "theta", "lambda"]

    mutating func key() -> String {
        let first = Self.words.randomElement(using: &rng)!
        guard Bool.random(using: &rng) else { return first }
        return first + Self.words.randomElement(using: &rng)!.capitalized
    }

    mutating func number() -> JSONValue {
        switch Int.random(in: 0..<5, using: &rng) {
        case 0: return JSONValue(Int.random(in: -1000...1000, using: &rng))
        case 1: return .number(String(UInt64.random(in: 1 << 53...UInt64.max, using: &rng)) + "7")  // beyond 2^53
        case 2: return .number("\(Int.random(in: -99...99, using: &rng)).\(Int.random(in: 1...999, using: &rng))")
        case 3: return .number("\(Int.random(in: 1...9, using: &rng))e\(Int.random(in: -60...60, using: &rng))")
        default: return .number("0")
        }
    }

    mutating func leaf() -> JSONValue {
        switch Int.random(in: 0..<3, using: &rng) {
        case 0: return .string(String(repeating: "x", count: Int.random(in: 0...3, using: &rng)) + key())
        case 1: return .bool(Bool.random(using: &rng))
        default: return number()
        }
    }

    mutating func value(depth: Int) -> JSONValue {
        guard depth > 0, Int.random(in: 0..<3, using: &rng) > 0 else { return leaf() }
        if Bool.random(using: &rng) {
            return .array((0..<Int.random(in: 1...3, using: &rng)).map { _ in value(depth: depth - 1) })
        }
        return .object(object(depth: depth - 1))
    }

    mutating func object(depth: Int) -> JSONObject {
        var object = JSONObject()
        for _ in 0..<Int.random(in: 1...4, using: &rng) { object[key()] = value(depth: depth) }
        return object
    }

    mutating func document() -> JSONValue { .object(object(depth: 4)) }

    /// The same document with every object's members in a random order.
    mutating func shuffled(_ value: JSONValue) -> JSONValue {
        switch value {
        case .array(let items): return .array(items.map { shuffled($0) })
        case .object(let object):
            var fields = object.fields.map { JSONField($0.key, shuffled($0.value)) }
            fields.shuffle(using: &rng)
            return .object(JSONObject(fields))
        default: return value
        }
    }

    /// The same document with every number written another way (`1` ↔ `1.0` ↔ `10e-1` …).
    mutating func respelled(_ value: JSONValue) -> JSONValue {
        switch value {
        case .number(let text):
            guard let d = CanonicalNumber.decompose(text) else { return value }
            let sign = d.negative ? "-" : ""
            if d.digits.isEmpty { return .number(["0", "-0", "0.0", "0e5", "-0.000E-3"].randomElement(using: &rng)!) }
            let spellings = [
                "\(sign)\(d.digits)e\(d.exponent)", "\(sign)\(d.digits)00E\(d.exponent - 2)",
                "\(sign)0.\(d.digits)e\(d.exponent + d.digits.count >= 0 ? "+" : "")\(d.exponent + d.digits.count)", "\(sign)\(d.digits).000e\(d.exponent)",
            ]
            return .number(spellings.randomElement(using: &rng)!)
        case .array(let items): return .array(items.map { respelled($0) })
        case .object(let object): return .object(JSONObject(object.fields.map { JSONField($0.key, respelled($0.value)) }))
        default: return value
        }
    }

    /// Paths (object keys and array positions) of every leaf.
    static func leafPaths(_ value: JSONValue, prefix: [PathStep] = []) -> [[PathStep]] {
        switch value {
        case .array(let items): return items.enumerated().flatMap { leafPaths($1, prefix: prefix + [.index($0)]) }
        case .object(let object): return object.fields.flatMap { leafPaths($0.value, prefix: prefix + [.key($0.key)]) }
        default: return [prefix]
        }
    }

    enum PathStep { case key(String), index(Int) }

    /// The document with the leaf at `path` changed to a different value of the same type.
    static func changing(_ value: JSONValue, at path: ArraySlice<PathStep>) -> JSONValue {
        guard let step = path.first else {
            switch value {
            case .string(let s): return .string(s + "!")
            case .bool(let b): return .bool(!b)
            case .number(let text):
                let canonical = CanonicalNumber.spelling(text)
                if canonical == "0" { return .number("7") }
                if let e = canonical.firstIndex(of: "e") { return .number(canonical[..<e] + "7" + canonical[e...]) }
                return .number(canonical.contains(".") ? canonical + "7" : canonical + ".7")
            default: return .string("changed")
            }
        }
        switch (step, value) {
        case (.key(let key), .object(var object)):
            object[key] = changing(object[key]!, at: path.dropFirst())
            return .object(object)
        case (.index(let i), .array(var items)):
            items[i] = changing(items[i], at: path.dropFirst())
            return .array(items)
        default: return value
        }
    }
}
