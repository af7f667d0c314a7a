import ArgumentParser
import FlashgateCore

/// `flashgate keys`: virtual-key chores. Only a key's hash goes into the config, so the key
/// itself is shown once, here, and nowhere else.
struct Keys: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage virtual keys.", subcommands: [New.self])

    /// `flashgate keys new --team T [--name N]`.
    struct New: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a new random virtual key, its sha256 hash and the YAML to paste under `keys:`.")

        @Option(name: .long, help: "The team the key bills to (a teams[].id).")
        var team: String

        @Option(name: .long, help: "A name for the key, unique among keys (default: <team>-key).")
        var name: String?

        func validate() throws {
            for (option, value) in [("--team", team), ("--name", name ?? "\(team)-key")]
            where !FlashgateConfig.isIdentifier(value) {
                throw ValidationError("\(option): \(FlashgateConfig.identifierRule), got '\(value)'")
            }
        }

        func run() throws {
            var rng = SystemRandomNumberGenerator()
            let key = VirtualKey.generate(using: &rng)
            let name = name ?? "\(team)-key"
            print(
                """
                key:  \(key)
                hash: \(VirtualKey.hashText(key))

                Give the key to the client; it is not stored anywhere. Paste this under `keys:`:

                  - name: "\(name)"
                    team: "\(team)"
                    hash: "\(VirtualKey.hashText(key))"
                """)
        }
    }
}
