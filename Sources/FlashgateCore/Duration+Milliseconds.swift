extension Duration {
    /// Whole milliseconds, truncated: for `…Ms` fields, ledger rows and log lines.
    package var milliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}
