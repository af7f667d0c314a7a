import ArgumentParser
import FlashgateAccounting
import FlashgateCore
import FlashgateServer
import FlashgateStorage
import Foundation
import Logging

/// `flashgate usage`: the ledger's usage by team, key, model and UTC day, as a table or JSON.
struct Usage: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print usage from the ledger by team, key, model and UTC day.",
        discussion: """
            One row per UTC day, team, key and model with requests, prompt, cached, output and thoughts \
            tokens, cache hits, cost in dollars, the part of it that created context caches and paid their \
            rent (CTX_USD), what cached reads saved after that (CTX_SAVED_USD: cached tokens at the input \
            minus the cached rate, less CTX_USD), and requests Flashgate refused (rate limit, budget, auth, \
            bad input, edge limit; refusals have no model, so they are counted in rows whose model is "-"), \
            then a total row of requests, cost and refusals. Filters combine (--model leaves refusals out); \
            --days 1 is today so far. --json prints the same rows (without the total) as a JSON array, with \
            refusals by reason in refused_by.

            --budgets prints each budget's current period instead: its limit and this host's settled \
            spend from the ledger and, when the config has a shared: section, the spend across every host \
            from Redis (settled, leased by live hosts, burned by hosts gone silent, live/all hosts).
            """)

    @Option(name: .long, help: "Store directory (default: the config's store.path, else ./.flashgate).")
    var store: String?

    @Option(name: .long, help: "YAML config file whose store.path to read.")
    var config: String?

    @Option(name: .long, help: "Only this team.") var team: String?
    @Option(name: .long, help: "Only this key.") var key: String?
    @Option(name: .long, help: "Only this model.") var model: String?
    @Option(name: .long, help: "Only the last N UTC days, today included.") var days: Int?
    @Flag(name: .long, help: "Print JSON instead of a table.") var json = false
    @Flag(name: .long, help: "Budgets of the current periods: this host's spend and, with shared:, the cluster's.")
    var budgets = false

    func validate() throws {
        // At most a hundred years: a count past what milliseconds hold must not overflow.
        if let days, !(1...36_500).contains(days) {
            throw ValidationError("--days: expected 1 to 36500, got \(days)")
        }
    }

    func run() throws {
        var settings = StoreConfig()
        var loaded: FlashgateConfig?
        var prices = PriceTable()
        if let config {
            do {
                // Budgets shared through Redis need its password; the ledger alone needs no secret.
                loaded = try ConfigFile.load(
                    path: config, environment: ProcessInfo.processInfo.environment,
                    secrets: budgets ? .required : .notNeeded)
                settings = loaded!.store
                prices = loaded!.prices
            } catch {
                FileHandle.standardError.write(Data("\(config): \(error)\n".utf8))
                throw ExitCode(2)
            }
        }
        let directory = (store ?? settings.path) + "/ledger"
        guard FileManager.default.fileExists(atPath: directory + "/data.mdb") else {
            FileHandle.standardError.write(Data("flashgate: no ledger at \(directory)\n".utf8))
            throw ExitCode(1)
        }
        let rows: [UsageRow]
        do {
            // The map size the server opens it with: ledger.max_size, else store.max_size.
            let ledger = try Ledger.open(
                directory: directory, maxSizeBytes: loaded?.ledgerMaxSizeBytes ?? settings.maxSizeBytes,
                logger: Logger(label: "flashgate"))
            defer { ledger.close() }
            if budgets {
                guard let loaded else { throw ValidationError("--budgets needs --config (the budgets are in it)") }
                print(try Self.budgets(config: loaded, ledger: ledger))
                return
            }
            var fromMs: Int64?
            if let days {
                let dayMs: Int64 = 86_400_000
                let now = Int64(Date().timeIntervalSince1970 * 1000)
                fromMs = (now / dayMs - Int64(days - 1)) * dayMs
            }
            rows = try ledger.usage(from: fromMs, to: nil, team: team, key: key, model: model)
        } catch {
            FileHandle.standardError.write(Data("flashgate: \(error)\n".utf8))
            throw ExitCode(1)
        }
        print(json ? Self.json(rows, prices: prices) : Self.table(rows, prices: prices))
    }

    static func json(_ rows: [UsageRow], prices: PriceTable = PriceTable()) -> String {
        JSONWriter.string(
            .array(
                rows.map { r in
                    .object([
                        "day": .string(r.day), "team": .string(r.team), "key": .string(r.key), "model": .string(r.model),
                        "requests": JSONValue(r.requests), "prompt_tokens": JSONValue(r.promptTokens),
                        "cached_tokens": JSONValue(r.cachedTokens), "output_tokens": JSONValue(r.outputTokens),
                        "thoughts_tokens": JSONValue(r.thoughtsTokens), "search_queries": JSONValue(r.searchQueries),
                        "cache_hits": JSONValue(r.cacheHits), "cost_usd": .number(r.cost.dollars),
                        "context_cache_usd": .number(r.contextCacheCost.dollars),
                        "context_saved_usd": .number(UsageReport.contextSaving(r, prices: prices).dollars),
                        "refused": JSONValue(r.refused), "refused_by": DashboardReport.refusedBy(r.refusedBy),
                    ])
                }))
    }

    static func table(_ rows: [UsageRow], prices: PriceTable = PriceTable()) -> String {
        let header = [
            "DAY", "TEAM", "KEY", "MODEL", "REQUESTS", "PROMPT", "CACHED", "OUTPUT", "THOUGHTS", "HITS", "COST_USD",
            "CTX_USD", "CTX_SAVED_USD", "REFUSED",
        ]
        var cells = [header]
        for r in rows {
            cells.append([
                r.day, r.team.isEmpty ? "-" : r.team, r.key, r.model.isEmpty ? "-" : r.model, "\(r.requests)",
                "\(r.promptTokens)", "\(r.cachedTokens)", "\(r.outputTokens)", "\(r.thoughtsTokens)", "\(r.cacheHits)",
                r.cost.dollars, r.contextCacheCost.dollars, UsageReport.contextSaving(r, prices: prices).dollars,
                "\(r.refused)",
            ])
        }
        let total = rows.reduce(MicroUSD.zero) { $0 + $1.cost }
        cells.append([
            "total", "", "", "", "\(rows.reduce(0) { $0 + $1.requests })", "", "", "", "", "", total.dollars,
            rows.reduce(MicroUSD.zero) { $0 + $1.contextCacheCost }.dollars, "",
            "\(rows.reduce(0) { $0 + $1.refused })",
        ])
        let widths = header.indices.map { i in cells.map { $0[i].count }.max() ?? 0 }
        return cells.map { row in
            row.enumerated().map { i, cell in
                let pad = String(repeating: " ", count: widths[i] - cell.count)
                return i < 4 ? cell + pad : pad + cell
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}
