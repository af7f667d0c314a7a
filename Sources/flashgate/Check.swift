import ArgumentParser
import FlashgateServer
import Foundation

/// `flashgate check --config FILE`: validate without serving.
struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate a config file and exit: 0 when valid, 1 with the offending key path otherwise.")

    @Option(name: .long, help: "The YAML config file to validate.")
    var config: String

    func run() throws {
        do {
            let loaded = try ConfigFile.load(path: config, environment: ProcessInfo.processInfo.environment)
            print("\(config): valid (\(loaded.routes.count) routes, \(loaded.models.count) models)")
        } catch {
            FileHandle.standardError.write(Data("\(config): \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}
