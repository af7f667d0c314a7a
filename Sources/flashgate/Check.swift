import ArgumentParser
import FlashgateServer
import Foundation

/// `flashgate check --config FILE`: validate without serving.
struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate a config file and exit: 0 when valid, 1 with the offending key path otherwise.",
        discussion: """
            Besides syntax and cross-references, check prices every model the config routes to: a model \
            without a price row is never called (Flashgate refuses it with a 400), so each one is reported \
            with the prices.<model> key to add, and the exit status is 1.
            """)

    @Option(name: .long, help: "The YAML config file to validate.")
    var config: String

    func run() throws {
        do {
            let loaded = try ConfigFile.load(path: config, environment: ProcessInfo.processInfo.environment)
            let unpriced = loaded.unpricedModels()
            guard unpriced.isEmpty else {
                FileHandle.standardError.write(Data(unpriced.map { "\(config): \($0)\n" }.joined().utf8))
                throw ExitCode(1)
            }
            print("\(config): valid (\(loaded.routes.count) routes, \(loaded.models.count) models)")
            if let passthrough = loaded.passthroughPricing { print("\(config): \(passthrough)") }
            if let shared = loaded.shared {
                print(
                    "\(config): budgets shared through redis at \(shared.address) as host '\(shared.hostID)', "
                        + "outage policy \(shared.outage.rawValue) (redis not contacted)")
            }
        } catch {
            FileHandle.standardError.write(Data("\(config): \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}
