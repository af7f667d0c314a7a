/// A JSON document kept exactly as the client wrote it: object keys stay in their order and
/// numbers keep their literal text, so a body Flashgate does not need to change can be written
/// back byte-for-byte in meaning, and unknown fields are never lost.
package enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// The number's literal text as it appeared (or as Flashgate formatted it).
    case number(String)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    package init(_ value: Int) { self = .number(String(value)) }

    package init(_ value: Double) {
        if value.rounded() == value && abs(value) < 1e15 {
            self = .number(String(Int64(value)))
        } else {
            self = .number(String(value))
        }
    }

    package var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    package var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    package var doubleValue: Double? {
        if case .number(let n) = self { return Double(n) }
        return nil
    }

    /// The value as an integer when it is a whole number (`3`, `3.0`, `3e0`).
    package var intValue: Int? {
        guard case .number(let n) = self else { return nil }
        if let i = Int(n) { return i }
        guard let d = Double(n), d.rounded() == d, abs(d) < 9.0e15 else { return nil }
        return Int(d)
    }

    /// An integer field as proto3 JSON may write it: a number, or a string holding one (`"8"`).
    package var integerLiteral: String? {
        switch self {
        case .number(let text), .string(let text): text
        default: nil
        }
    }

    /// `intValue` of an integer field written either way (`8` or `"8"`).
    package var protoIntValue: Int? { integerLiteral.flatMap { JSONValue.number($0).intValue } }

    package var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    package var objectValue: JSONObject? {
        if case .object(let o) = self { return o }
        return nil
    }

    package var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// A short name of the JSON type, for error messages.
    package var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    package subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    package subscript(index: Int) -> JSONValue? {
        if case .array(let a) = self, a.indices.contains(index) { return a[index] }
        return nil
    }
}

/// One member of a JSON object.
package struct JSONField: Sendable, Equatable {
    package var key: String
    package var value: JSONValue

    package init(_ key: String, _ value: JSONValue) {
        self.key = key
        self.value = value
    }
}

/// A JSON object that keeps its members in order. Objects on the wire are small, so a linear
/// scan beats hashing; a duplicate key keeps its first position and its last value.
package struct JSONObject: Sendable, Equatable, ExpressibleByDictionaryLiteral {
    package var fields: [JSONField]

    package init() { fields = [] }

    package init(_ fields: [JSONField]) { self.fields = fields }

    package init(dictionaryLiteral elements: (String, JSONValue)...) {
        fields = elements.map { JSONField($0.0, $0.1) }
    }

    package var isEmpty: Bool { fields.isEmpty }

    package var keys: [String] { fields.map(\.key) }

    package subscript(key: String) -> JSONValue? {
        // Keys of another length are skipped before `==` compares bytes: most keys looked at
        // are not the one asked for, and the length is stored with the string.
        get {
            let length = key.utf8.count
            for field in fields where field.key.utf8.count == length && field.key == key { return field.value }
            return nil
        }
        set {
            let length = key.utf8.count
            if let index = fields.firstIndex(where: { $0.key.utf8.count == length && $0.key == key }) {
                if let newValue {
                    fields[index].value = newValue
                } else {
                    fields.remove(at: index)
                }
            } else if let newValue {
                fields.append(JSONField(key, newValue))
            }
        }
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    package init(stringLiteral value: String) { self = .string(value) }
    package init(booleanLiteral value: Bool) { self = .bool(value) }
    package init(integerLiteral value: Int) { self = .number(String(value)) }
    package init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    package init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(JSONObject(elements.map { JSONField($0.0, $0.1) }))
    }
    package init(nilLiteral: ()) { self = .null }
}
