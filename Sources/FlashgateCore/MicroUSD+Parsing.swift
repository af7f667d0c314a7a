extension MicroUSD {
    /// Parses a decimal dollar amount such as `"12.50"`, `"0.000001"` or `"3"` exactly, digit by
    /// digit, so a configured limit is the integer an operator wrote and never a rounded `Double`.
    /// Refuses signs, exponents, more than six decimals (below a micro-dollar) and overflow.
    package init?(dollars text: String) {
        let parts = text.trimmingCharacters(in: .whitespaces).split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 1 || parts.count == 2 else { return nil }
        let whole = parts[0]
        let fraction = parts.count == 2 ? parts[1] : ""
        guard !whole.isEmpty || !fraction.isEmpty, fraction.count <= 6 else { return nil }
        guard whole.allSatisfy({ $0.isASCII && $0.isNumber }), fraction.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            return nil
        }
        let padded = fraction + String(repeating: "0", count: 6 - fraction.count)
        guard let dollars = whole.isEmpty ? 0 : Int64(whole), let micros = Int64(padded) else { return nil }
        let (scaled, overflow) = dollars.multipliedReportingOverflow(by: 1_000_000)
        guard !overflow, scaled <= Int64.max - micros else { return nil }
        self.init(scaled + micros)
    }
}
